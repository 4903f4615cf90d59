// The sans-I/O HTTP protocol layer of the HTTP front end, in one include: limits and framing
// checks (framing.h), request targets (target.h), routing (router.h), problem details
// (problem.h), tokens and header copying (headers.h), bounded content decoding (inflater.h).
// None of it touches a socket; src/server calls it. See each header for thread safety.
#pragma once

#include "proto/http/beast.h"
#include "proto/http/framing.h"
#include "proto/http/headers.h"
#include "proto/http/inflater.h"
#include "proto/http/problem.h"
#include "proto/http/router.h"
#include "proto/http/target.h"

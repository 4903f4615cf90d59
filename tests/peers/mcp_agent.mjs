// An MCP agent on the official TypeScript SDK, pointed at jitgate's MCP server: the end-to-end
// tests and the demo drive it, and it is a handy CLI on its own.
//
//   node tests/peers/mcp_agent.mjs --url https://127.0.0.1:8443/mcp --token <access token> list
//   node tests/peers/mcp_agent.mjs --url ... --client-id ID --client-secret S [--scope db.read] \
//       call query_kb '{"sql":"select 1"}'
//   node tests/peers/mcp_agent.mjs --url ... --token T run-approved query_kb '{"sql":"..."}'
//
// --token sends a bearer token as is. --client-id/--client-secret use the SDK's OAuth support
// instead: the first request gets a 401 whose WWW-Authenticate names the protected-resource
// metadata; the SDK reads it, discovers the authorization server and obtains a token by client
// credentials for the resource it names. Commands print one JSON document on stdout:
//   list                      {"session_id", "tools": [...]}
//   call <tool> <json-args>   lists the tools, then calls one: {"session_id", "result": CallToolResult}
//                             or {"error": {code, message}}
//   run-approved <tool> <json-args>
//                             calls the tool; when it answers with a pending review, prints
//                             {"review_id"} on stderr, waits with await_review until it is
//                             decided, then calls the tool again: {"first", "awaited", "result"}
// Trust a self-signed gateway with NODE_EXTRA_CA_CERTS. Exit status 0, or 1 on an error.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';

function parseArgs(argv) {
  const opts = { positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      opts[a.slice(2)] = argv[++i];
    } else {
      opts.positional.push(a);
    }
  }
  return opts;
}

async function connect(opts) {
  const transportOpts = {};
  if (opts.token) {
    transportOpts.requestInit = { headers: { Authorization: `Bearer ${opts.token}` } };
  } else if (opts['client-id']) {
    transportOpts.authProvider = new ClientCredentialsProvider({
      clientId: opts['client-id'],
      clientSecret: opts['client-secret'],
      scope: opts.scope,
    });
  }
  const transport = new StreamableHTTPClientTransport(new URL(opts.url), transportOpts);
  const client = new Client({ name: 'jitgate-mcp-agent', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

function errorJson(e) {
  return { error: { code: e.code ?? null, message: String(e.message ?? e) } };
}

async function runApproved(client, name, args, timeout) {
  const first = await client.callTool({ name, arguments: args });
  const reviewId = first.structuredContent?.review_id;
  if (!reviewId) {
    return { first, awaited: null, result: first };
  }
  process.stderr.write(JSON.stringify({ review_id: reviewId }) + '\n');
  let awaited;
  for (;;) {
    awaited = await client.callTool(
      { name: 'await_review', arguments: { review_id: reviewId, timeout_seconds: 120 } },
      undefined, { timeout: (timeout + 10) * 1000 });
    if (awaited.structuredContent?.status !== 'pending') {
      break;
    }
  }
  const result = awaited.structuredContent?.status === 'approved'
    ? await client.callTool({ name, arguments: args }) : null;
  return { first, awaited, result };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const [command, ...rest] = opts.positional;
  if (!opts.url || !command) {
    throw new Error('usage: mcp_agent.mjs --url URL (--token T | --client-id ID --client-secret S) '
      + 'list | call <tool> <json-args> | run-approved <tool> <json-args>');
  }
  const { client, transport } = await connect(opts);
  let out;
  try {
    if (command === 'list') {
      const { tools } = await client.listTools();
      out = { session_id: transport.sessionId, tools };
    } else if (command === 'call') {
      // As agents do, and as a pinning MCP proxy requires: the tools are listed first.
      await client.listTools();
      const result = await client.callTool({ name: rest[0], arguments: JSON.parse(rest[1] ?? '{}') });
      out = { session_id: transport.sessionId, result };
    } else if (command === 'run-approved') {
      out = await runApproved(client, rest[0], JSON.parse(rest[1] ?? '{}'), 120);
    } else {
      throw new Error(`unknown command ${command}`);
    }
  } catch (e) {
    out = errorJson(e);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  await client.close();
  process.exit(out.error ? 1 : 0);
}

main().catch((e) => {
  process.stdout.write(JSON.stringify(errorJson(e)) + '\n');
  process.exit(1);
});

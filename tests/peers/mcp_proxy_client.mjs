// An MCP client on the official SDK (Client + StreamableHTTPClientTransport), driven by a list of
// steps, for the MCP proxy's end-to-end tests. Prints one JSON line per step:
//   {"step":"list","ok":true,"tools":["echo",...]}
//   {"step":"call","ok":true,"content":[...],"structuredContent":...,"isError":false}
//   {"step":"call","ok":false,"code":-32001,"message":"..."}
// and, at the end, {"step":"notifications","messages":[...],"sampling":N}.
//
//   node mcp_proxy_client.mjs --url URL --token T --steps '[{"op":"list"},
//        {"op":"call","tool":"echo","args":{"message":"hi"}}, {"op":"sleep","ms":500}]'
// Options: --sampling (announce the sampling capability and answer sampling requests).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  LoggingMessageNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

const url = arg("url");
const token = arg("token");
const steps = JSON.parse(arg("steps", "[]"));
const sampling = process.argv.includes("--sampling");

const headers = token ? { Authorization: `Bearer ${token}` } : {};
const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
const client = new Client(
  { name: "jitgate-e2e", version: "1.0.0" },
  { capabilities: sampling ? { sampling: {} } : {} },
);
const messages = [];
let sampled = 0;
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
  messages.push(n.params);
});
if (sampling) {
  client.setRequestHandler(CreateMessageRequestSchema, async () => {
    sampled += 1;
    return { role: "assistant", model: "test", content: { type: "text", text: "sampled" } };
  });
}

function out(o) {
  process.stdout.write(JSON.stringify(o) + "\n");
}

function failure(step, e) {
  return { step, ok: false, code: e.code ?? null, message: String(e.message ?? e) };
}

try {
  await client.connect(transport);
} catch (e) {
  out(failure("connect", e));
  process.exit(0);
}
for (const s of steps) {
  try {
    if (s.op === "list") {
      const r = await client.listTools();
      out({ step: "list", ok: true, tools: r.tools.map((t) => t.name) });
    } else if (s.op === "call") {
      let progress = 0;
      const opts = s.progress ? { onprogress: () => (progress += 1), timeout: 30000 } : {};
      const r = await client.callTool({ name: s.tool, arguments: s.args ?? {} }, undefined, opts);
      out({ step: "call", ok: true, content: r.content, structuredContent: r.structuredContent,
            isError: r.isError ?? false, progress });
    } else if (s.op === "sleep") {
      await new Promise((resolve) => setTimeout(resolve, s.ms));
    }
  } catch (e) {
    out(failure(s.op, e));
  }
}
out({ step: "notifications", messages, sampling: sampled });
await transport.close().catch(() => {});
process.exit(0);

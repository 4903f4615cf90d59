// A real OpenID Connect provider (npm oidc-provider) for jitgate's end-to-end tests.
//
//   node tests/oidc/provider.mjs --state DIR [--port 0] [--host 127.0.0.1]
//
// Prints one line `listening http://HOST:PORT` when ready; the issuer is that URL. Everything the
// tests change lives in DIR/state.json (signing keys, service-account clients, users), so a
// provider restarted on the same port with the same DIR serves the same keys.
//
// Tokens are real JWT access tokens signed by oidc-provider:
//   * service accounts: client_credentials at /token with client_secret_basic and
//     resource=<audience>; the client's groups/email/name become claims;
//   * users: the test-only grant `urn:jitgate:test:user` (client `test-login`, parameters
//     username, resource, scope, ttl), which issues an access token for that account;
//   * device flow (client `jitgate-cli`, public): /device/auth, then POST /test/approve-device
//     {user_code, username} stands in for the person approving in a browser.
//
//   * people in a browser (code-flow clients registered with redirect_uris): the provider's
//     own login page (login = a test user, any password) and consent page.
//
// Test control endpoints (JSON bodies): POST /test/clients {client_id, client_secret, groups,
// email, name, ttl, redirect_uris}, POST /test/users {username, groups, email, name},
// POST /test/rotate {keep_old}, GET /test/state.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import Provider, { errors } from 'oidc-provider';

const USER_GRANT = 'urn:jitgate:test:user';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const RESOURCE_SCOPES = 'db.read db.write';

function parseArgs(argv) {
  const args = { port: 0, host: '127.0.0.1', state: null };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args)) throw new Error(`unknown option ${argv[i]}`);
    args[key] = key === 'port' ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!args.state) throw new Error('--state DIR is required');
  return args;
}

function newSigningKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `rsa-${crypto.randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' };
}

class State {
  constructor(dir) {
    this.file = path.join(dir, 'state.json');
    fs.mkdirSync(dir, { recursive: true });
    if (fs.existsSync(this.file)) {
      Object.assign(this, JSON.parse(fs.readFileSync(this.file, 'utf8')));
    } else {
      this.keys = [newSigningKey()];
      this.clients = {};
      this.users = {};
      this.save();
    }
  }

  save() {
    const { keys, clients, users } = this;
    fs.writeFileSync(this.file, JSON.stringify({ keys, clients, users }, null, 2), { mode: 0o600 });
  }
}

function buildProvider(issuer, state) {
  const resourceInfo = (ctx, resource, client) => ({
    scope: RESOURCE_SCOPES,
    audience: resource,
    accessTokenTTL: Number(ctx.oidc.params?.ttl) || state.clients[client.clientId]?.ttl || 3600,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  });
  const serviceClients = Object.values(state.clients).map((c) => (c.redirect_uris ? {
    // A web application signing people in (authorization code + PKCE), e.g. jitgate's console.
    client_id: c.client_id,
    client_secret: c.client_secret,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: c.redirect_uris,
    token_endpoint_auth_method: 'client_secret_post',
    scope: `openid ${RESOURCE_SCOPES}`,
  } : {
    client_id: c.client_id,
    client_secret: c.client_secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: RESOURCE_SCOPES,
  }));
  const provider = new Provider(issuer, {
    jwks: { keys: state.keys },
    scopes: ['openid', ...RESOURCE_SCOPES.split(' ')],
    clients: [
      ...serviceClients,
      {
        client_id: 'test-login',
        client_secret: 'test-login-secret',
        grant_types: [USER_GRANT],
        response_types: [],
        redirect_uris: [],
        scope: `openid ${RESOURCE_SCOPES}`,
      },
      {
        client_id: 'jitgate-cli',
        token_endpoint_auth_method: 'none',
        grant_types: [DEVICE_GRANT],
        response_types: [],
        redirect_uris: [],
        scope: `openid ${RESOURCE_SCOPES}`,
      },
    ],
    features: {
      // The provider's own login and consent pages: any registered test user signs in with
      // any password (code-flow clients only; the other grants never show a page).
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'https://jitgate.local/',
        useGrantedResource: () => true,
        getResourceServerInfo: resourceInfo,
      },
    },
    findAccount: (ctx, id) =>
      state.users[id] ? { accountId: id, claims: () => ({ sub: id, ...state.users[id] }) } : undefined,
    extraTokenClaims: (ctx, token) => {
      const who = token.accountId ? state.users[token.accountId] : state.clients[token.clientId];
      if (!who) return undefined;
      const claims = { groups: who.groups ?? [] };
      if (who.email) claims.email = who.email;
      if (who.name) claims.name = who.name;
      return claims;
    },
  });
  provider.on('server_error', (ctx, err) => process.stderr.write(`provider: ${err.stack}\n`));
  provider.registerGrantType(USER_GRANT, userGrant, new Set(['username', 'resource', 'scope', 'ttl']));
  return provider;

  async function userGrant(ctx) {
    const { username } = ctx.oidc.params;
    if (!state.users[username]) throw new errors.InvalidGrant(`unknown test user ${username}`);
    const resource = ctx.oidc.params.resource || 'https://jitgate.local/';
    const info = resourceInfo(ctx, resource, ctx.oidc.client);
    const token = new provider.AccessToken({
      accountId: username,
      client: ctx.oidc.client,
      grantId: crypto.randomUUID(),
      scope: ctx.oidc.params.scope || 'db.read',
      gty: 'password',
    });
    token.resourceServer = new provider.ResourceServer(resource, info);
    ctx.oidc.entity('AccessToken', token);
    const value = await token.save();
    ctx.body = { access_token: value, token_type: 'Bearer', expires_in: token.expiration, scope: token.scope };
  }
}

async function readJson(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body ? JSON.parse(body) : {};
}

function reply(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

async function approveDevice(provider, { user_code: userCode, username }) {
  const code = await provider.DeviceCode.findByUserCode(userCode.replace(/[^A-Za-z]/g, '').toUpperCase());
  if (!code) throw new Error(`no pending device code ${userCode}`);
  const grant = new provider.Grant({ accountId: username, clientId: code.clientId });
  grant.addOIDCScope('openid');
  const resource = code.params.resource || 'https://jitgate.local/';
  grant.addResourceScope(resource, code.params.scope?.split(' ').filter((s) => s !== 'openid').join(' ') || 'db.read');
  code.grantId = await grant.save();
  code.resource = resource;
  code.scope = `openid ${RESOURCE_SCOPES}`;
  code.accountId = username;
  code.authTime = Math.floor(Date.now() / 1000);
  await code.save();
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const state = new State(args.state);
  let issuer = null;
  let provider = null;
  let handler = null;
  const rebuild = () => {
    provider = buildProvider(issuer, state);
    provider.proxy = false;
    handler = provider.callback();
  };

  const server = http.createServer(async (req, res) => {
    if (!req.url.startsWith('/test/')) {
      handler(req, res);
      return;
    }
    try {
      const body = req.method === 'POST' ? await readJson(req) : {};
      if (req.url === '/test/clients') {
        state.clients[body.client_id] = { client_secret: crypto.randomBytes(16).toString('hex'), ...body };
        state.save();
        rebuild();
        reply(res, 200, { client_id: body.client_id, client_secret: state.clients[body.client_id].client_secret });
      } else if (req.url === '/test/users') {
        const { username, ...claims } = body;
        state.users[username] = claims;
        state.save();
        reply(res, 200, { username });
      } else if (req.url === '/test/rotate') {
        state.keys = body.keep_old === false ? [newSigningKey()] : [newSigningKey(), ...state.keys];
        state.save();
        rebuild();
        reply(res, 200, { kids: state.keys.map((k) => k.kid) });
      } else if (req.url === '/test/approve-device') {
        await approveDevice(provider, body);
        reply(res, 200, { approved: body.user_code });
      } else if (req.url === '/test/state') {
        reply(res, 200, { issuer, kids: state.keys.map((k) => k.kid), clients: Object.keys(state.clients) });
      } else {
        reply(res, 404, { error: 'unknown test endpoint' });
      }
    } catch (err) {
      reply(res, 400, { error: String(err.message || err) });
    }
  });
  server.listen(args.port, args.host, () => {
    issuer = `http://${args.host}:${server.address().port}`;
    rebuild();
    process.stdout.write(`listening ${issuer}\n`);
  });
  const shutdown = () => server.close(() => process.exit(0));
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err) => {
  process.stderr.write(`provider: ${err.stack || err}\n`);
  process.exit(1);
});

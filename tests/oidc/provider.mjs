// A real OpenID Connect provider for kb's tests: the certified `oidc-provider` package, run by
// the suite on a loopback port (tests/oidc_support.py starts and stops it).
//
//   node provider.mjs CONFIG.json     CONFIG: {"port": N, "accounts": {"id": {"password", "name",
//                                              "email", "groups"}}}
//
// The provider itself does everything a company's provider does: discovery, its signing keys,
// the authorization code flow with PKCE (required here), a sign-in form with passwords, ID
// tokens, userinfo, RP-initiated logout and back-channel logout. Consent is given at once, as a
// company's provider does for its own applications.
//
// What the tests may change, on routes under /_test/ (loopback only, like the rest):
//   PUT  /_test/clients/ID   add or replace a client (redirect URIs, back-channel logout URI)
//   POST /_test/mode         how the next tokens come out: {"tamper": true} changes an ID token's
//                            subject after it is signed; {"audience": "other"} issues ID and logout
//                            tokens for another client; {"expired": S} makes them expire S seconds
//                            ago; {"skew": S} dates them S seconds ahead (a clock that runs fast)
//   POST /_test/rotate       sign with a new key (new key id), as a provider rotating its keys does
//                            (its sessions start afresh); {"conform": true} also moves profile
//                            claims out of the ID token, to userinfo
//   GET  /_test/stats        how often discovery and the keys were fetched
//   POST /_test/end-session  {"account": ID}: the provider ends that person's sessions (as an
//                            admin disabling them would), with back-channel logout to every client
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;
const accounts = config.accounts;
const mode = {};
const stats = { discovery: 0, jwks: 0 };
const sessions = new Map();        // account id -> provider session ids (for /_test/end-session)
const registered = new Map();      // client id -> metadata (kept across /_test/rotate)

function newKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

let keys = [newKey()];

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>`
    + `<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

function makeProvider({ conform = false } = {}) {
  const provider = new Provider(issuer, {
    jwks: { keys },
    clients: [],
    conformIdTokenClaims: conform,
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    async findAccount(ctx, id) {
      const account = accounts[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            sub: id, name: account.name, preferred_username: account.username ?? id,
            email: account.email, email_verified: true, groups: account.groups,
          };
        },
      };
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    pkce: { required: () => true },
    cookies: { keys: ['kb-test-provider-cookie-key'] },
    // a company's own applications: consent is given once for every scope they ask
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope(ctx.oidc.requestParamScopes ? [...ctx.oidc.requestParamScopes].join(' ') : 'openid');
      grant.addOIDCClaims(['sub', 'sid', 'name', 'preferred_username', 'email', 'email_verified', 'groups']);
      await grant.save();
      return grant;
    },
    // the suite's own servers are on loopback, which oidc-provider's outgoing requests refuse
    fetch: (url, options) => {
      const { dispatcher, ...rest } = options;   // eslint-disable-line no-unused-vars
      return globalThis.fetch(url, rest);
    },
  });
  provider.on('backchannel.error', (ctx, err, client) => {
    console.error(`back-channel logout to ${client.clientId} failed: ${err.message}`);
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  // remember which provider sessions belong to whom (for /_test/end-session)
  const { save } = provider.Session.prototype;
  provider.Session.prototype.save = async function saveAndTrack(...args) {
    const result = await save.apply(this, args);
    if (this.accountId) {
      if (!sessions.has(this.accountId)) sessions.set(this.accountId, new Set());
      sessions.get(this.accountId).add(this.id);
    }
    return result;
  };
  // the test switches act on tokens as the provider signs them
  const { issue } = provider.IdToken.prototype;
  provider.IdToken.prototype.issue = async function issueWithTestMode(options = {}) {
    const now = Math.floor(Date.now() / 1000);
    let opts = options;
    if (mode.audience) this.client = await provider.Client.find(mode.audience);
    if (mode.expired) {
      this.set('iat', now - 3600 - mode.expired);
      opts = { ...options, expiresAt: now - mode.expired };
    }
    if (mode.skew) {
      this.set('iat', now + mode.skew);
      opts = { ...options, expiresAt: now + mode.skew + 600 };
    }
    const token = await issue.call(this, opts);
    if (!mode.tamper) return token;
    const [head, body, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url'));
    claims.sub = mode.tamper === true ? 'someone-else' : mode.tamper;
    claims.preferred_username = claims.sub;
    return [head, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
  };
  return provider;
}

let provider = makeProvider();
const callbacks = new WeakMap();

function callbackOf(p) {
  if (!callbacks.has(p)) callbacks.set(p, p.callback());
  return callbacks.get(p);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(type === 'application/json' ? JSON.stringify(body) : body);
}

function loginForm(uid, error, login = '') {
  return page('Sign in to the company', `${error ? `<p role="alert" id="error">${escape(error)}</p>` : ''}
    <form method="post" action="/interaction/${uid}/login">
      <label>User name <input name="login" value="${escape(login)}" autocomplete="username" required></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
      <button type="submit">Continue</button>
    </form>`);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, { error: 'interaction mismatch' });
  if (details.prompt.name === 'consent') {
    const grant = details.grantId ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    if (details.prompt.details.missingOIDCScope) grant.addOIDCScope(details.prompt.details.missingOIDCScope.join(' '));
    if (details.prompt.details.missingOIDCClaims) grant.addOIDCClaims(details.prompt.details.missingOIDCClaims);
    return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } },
      { mergeWithLastSubmission: true });
  }
  if (action !== 'login' || req.method !== 'POST') return send(res, 200, loginForm(uid), 'text/html');
  const form = new URLSearchParams(await readBody(req));
  const login = form.get('login') || '';
  const account = accounts[login];
  if (!account || account.password !== form.get('password')) {
    return send(res, 200, loginForm(uid, 'Wrong user name or password.', login), 'text/html');
  }
  return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
}

async function endSessions(accountId) {
  let ended = 0;
  const errors = [];
  for (const sessionId of sessions.get(accountId) || []) {
    const session = await provider.Session.adapter.find(sessionId);
    if (!session) continue;
    for (const [clientId, { sid }] of Object.entries(session.authorizations || {})) {
      const client = await provider.Client.find(clientId);
      if (client?.backchannelLogoutUri) {
        try {
          await client.backchannelLogout(accountId, sid);
          ended += 1;
        } catch (err) {
          errors.push(err.message);
        }
      }
    }
    await provider.Session.adapter.destroy(sessionId);
  }
  sessions.delete(accountId);
  return { backchannel: ended, errors };
}

async function test(req, res, path) {
  const body = req.method === 'GET' ? {} : JSON.parse((await readBody(req)) || '{}');
  if (path.startsWith('/_test/clients/') && req.method === 'PUT') {
    const id = decodeURIComponent(path.slice('/_test/clients/'.length));
    registered.set(id, { client_id: id, ...body });
    await provider.Client.adapter.upsert(id, registered.get(id));
    const client = await provider.Client.find(id);
    return send(res, client ? 200 : 400, { client_id: id });
  }
  if (path === '/_test/mode' && req.method === 'POST') {
    for (const key of Object.keys(mode)) delete mode[key];
    Object.assign(mode, body);
    return send(res, 200, mode);
  }
  if (path === '/_test/rotate' && req.method === 'POST') {
    keys = [newKey()];
    provider = makeProvider({ conform: Boolean(body.conform) });
    for (const [id, metadata] of registered) await provider.Client.adapter.upsert(id, metadata);
    return send(res, 200, { kid: keys[0].kid });
  }
  if (path === '/_test/stats') return send(res, 200, stats);
  if (path === '/_test/end-session' && req.method === 'POST') {
    return send(res, 200, await endSessions(body.account));
  }
  return send(res, 404, { error: 'no such test route' });
}

const server = http.createServer(async (req, res) => {
  const { pathname } = new URL(req.url, issuer);
  try {
    if (pathname.startsWith('/_test/')) return await test(req, res, pathname);
    const match = pathname.match(/^\/interaction\/([^/]+)(?:\/(login))?$/);
    if (match) return await interaction(req, res, match[1], match[2]);
    if (pathname === '/.well-known/openid-configuration') stats.discovery += 1;
    if (pathname === '/jwks') stats.jwks += 1;
    return callbackOf(provider)(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: err.message });
    return undefined;
  }
});

server.listen(config.port, '127.0.0.1', () => {
  console.log(`listening on ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

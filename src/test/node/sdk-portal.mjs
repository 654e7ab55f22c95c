// An app-portal token through the official Svix JavaScript SDK (svix@1, package alias svix1),
// unchanged: the admin asks for a portal token for application A with
// `svix.authentication.appPortalAccess`, and a `Svix` client made with that token works on A
// (endpoints, messages, attempts), gets a 404 ApiException for every call on application B, lists
// only A, and gets 401 once the token logged out or its application's tokens were expired.
//
//   ZD_URL=http://127.0.0.1:8071 ZD_TOKEN=<admin token> node sdk-portal.mjs
//
// Prints one JSON line on stdout at the end, {"ok":true,...} and exits 0, or {"ok":false,"error":...}
// and exits 1. Progress goes to stderr.

import http from "node:http";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Svix, ApiException } = require("svix1");

const { ZD_URL, ZD_TOKEN } = process.env;
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const checks = [];
const log = (...a) => console.error("[sdk-portal]", ...a);

class CheckFailed extends Error {}

function check(name, ok, detail) {
    if (!ok) throw new CheckFailed(`${name}: ${typeof detail === "function" ? detail() : detail ?? "failed"}`);
    checks.push(name);
}

async function waitFor(what, probe, ms = 30_000) {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
        const v = await probe();
        if (v) return v;
    }
    throw new CheckFailed(`timed out waiting for ${what}`);
}

/** The call must fail with an ApiException of `code`. */
async function refused(name, code, fn) {
    try {
        await fn();
    } catch (e) {
        check(`${name}.apiException`, e instanceof ApiException, () => `got ${e?.stack ?? e}`);
        check(`${name}.${code}`, e.code === code, () => `code ${e.code}, body ${JSON.stringify(e.body)}`);
        return e;
    }
    throw new CheckFailed(`${name}: the call succeeded`);
}

const received = [];
const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
        received.push({ url: req.url, body });
        res.writeHead(200).end("ok");
    });
});

async function main() {
    if (!ZD_URL || !ZD_TOKEN) throw new CheckFailed("set ZD_URL and ZD_TOKEN");
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const hook = `http://127.0.0.1:${server.address().port}/hook/${RUN}`;
    const admin = new Svix(ZD_TOKEN, { serverUrl: ZD_URL });

    const a = await admin.application.create({ name: "portal A", uid: `portal-a-${RUN}` });
    const b = await admin.application.create({ name: "portal B", uid: `portal-b-${RUN}` });
    const bEndpoint = await admin.endpoint.create(b.id, { url: `${hook}/b` });
    const bMessage = await admin.message.create(b.id, { eventType: "portal.test", payload: { app: "B" } });

    const access = await admin.authentication.appPortalAccess(a.id, {});
    check("access.token", typeof access.token === "string" && access.token.startsWith("zd_"), () => JSON.stringify(access));
    check("access.url", access.url === `${ZD_URL}/portal/#key=${access.token}`, () => access.url);
    const portal = new Svix(access.token, { serverUrl: ZD_URL });

    // Its own application: endpoints, messages, attempts.
    const apps = await portal.application.list();
    check("own.application.list", apps.data.length === 1 && apps.data[0].id === a.id, () => JSON.stringify(apps.data.map((x) => x.id)));
    check("own.application.get", (await portal.application.get(a.uid)).id === a.id);
    const ep = await portal.endpoint.create(a.id, { url: `${hook}/a`, description: "made with a portal token" });
    check("own.endpoint.list", (await portal.endpoint.list(a.id)).data.some((x) => x.id === ep.id));
    check("own.endpoint.secret", (await portal.endpoint.getSecret(a.id, ep.id)).key.startsWith("whsec_"));
    const msg = await portal.message.create(a.id, { eventType: "portal.test", payload: { app: "A" } });
    const attempts = await waitFor("an attempt", async () => {
        const page = await portal.messageAttempt.listByMsg(a.id, msg.id);
        return page.data.length > 0 ? page : null;
    });
    check("own.attempts", attempts.data[0].msgId === msg.id && attempts.data[0].endpointId === ep.id, () => JSON.stringify(attempts.data[0]));
    check("own.attempts.byEndpoint", (await portal.messageAttempt.listByEndpoint(a.id, ep.id)).data.length > 0);
    check("own.delivered", received.some((r) => r.url === "/hook/" + RUN + "/a" && JSON.parse(r.body).app === "A"));

    // Application B: every call is the 404 of an application that does not exist.
    const onB = {
        "application.get": () => portal.application.get(b.id),
        "application.update": () => portal.application.update(b.id, { name: "taken" }),
        "application.patch": () => portal.application.patch(b.id, { name: "taken" }),
        "application.delete": () => portal.application.delete(b.id),
        "endpoint.list": () => portal.endpoint.list(b.id),
        "endpoint.create": () => portal.endpoint.create(b.id, { url: `${hook}/stolen` }),
        "endpoint.get": () => portal.endpoint.get(b.id, bEndpoint.id),
        "endpoint.getSecret": () => portal.endpoint.getSecret(b.id, bEndpoint.id),
        "endpoint.delete": () => portal.endpoint.delete(b.id, bEndpoint.id),
        "message.list": () => portal.message.list(b.id),
        "message.create": () => portal.message.create(b.id, { eventType: "portal.test", payload: {} }),
        "message.get": () => portal.message.get(b.id, bMessage.id),
        "messageAttempt.listByMsg": () => portal.messageAttempt.listByMsg(b.id, bMessage.id),
        "messageAttempt.listByEndpoint": () => portal.messageAttempt.listByEndpoint(b.id, bEndpoint.id),
        "endpoint.getStats": () => portal.endpoint.getStats(b.id, bEndpoint.id),
        "authentication.appPortalAccess": () => portal.authentication.appPortalAccess(b.id, {}),
    };
    for (const [name, call] of Object.entries(onB)) {
        await refused(`B.${name}`, name.startsWith("authentication.") ? 403 : 404, call);
    }
    const missing = await refused("missing.application.get", 404, () => portal.application.get("app_doesNotExist"));
    const foreign = await refused("B.application.get.again", 404, () => portal.application.get(b.id));
    check("B.sameAsMissing", foreign.body?.code === missing.body?.code, () => `${JSON.stringify(foreign.body)} vs ${JSON.stringify(missing.body)}`);
    check("B.untouched", (await admin.endpoint.list(b.id)).data.length === 1, "B's endpoints changed");

    // A read-only portal token reads and does not write.
    const ro = new Svix((await admin.authentication.appPortalAccess(a.id, { readOnly: true })).token, { serverUrl: ZD_URL });
    check("readOnly.list", (await ro.endpoint.list(a.id)).data.length >= 1);
    await refused("readOnly.create", 403, () => ro.endpoint.create(a.id, { url: `${hook}/ro` }));

    // The older name of the same route.
    const dash = await admin.authentication.dashboardAccess(a.id);
    check("dashboardAccess.token", (await new Svix(dash.token, { serverUrl: ZD_URL }).application.get(a.id)).id === a.id);

    // Logout ends the token; expire-all ends every other token of the application.
    await portal.authentication.logout();
    await refused("afterLogout", 401, () => portal.application.get(a.id));
    await admin.authentication.expireAll(a.id, {});
    await refused("afterExpireAll.readOnly", 401, () => ro.endpoint.list(a.id));
    await refused("afterExpireAll.dashboard", 401, () => new Svix(dash.token, { serverUrl: ZD_URL }).application.get(a.id));
    check("admin.unaffected", (await admin.application.get(a.id)).id === a.id);
    return { ok: true, checks: checks.length };
}

let code = 0;
try {
    console.log(JSON.stringify(await main()));
} catch (e) {
    code = 1;
    console.log(JSON.stringify({ ok: false, error: e instanceof CheckFailed ? e.message : String(e?.stack ?? e), checks: checks.length }));
} finally {
    server.closeAllConnections?.();
    server.close();
}
process.exitCode = code;

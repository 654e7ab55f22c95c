// Drives ZeroDrop's background tasks, replays, expunges and operational-webhook endpoints with the
// official Svix JavaScript SDK, unchanged, and checks every operational webhook with the SDK's own
// verifier against the secret of the endpoint it went to.
//
//   ZD_URL=http://127.0.0.1:8071 ZD_TOKEN=... node sdk-tasks.mjs
//
// The server must evaluate operational events often (ZERODROP_ALERT_INTERVAL=200ms) and retry fast.
// Prints one JSON line on stdout at the end, {"ok":true,...} and exits 0, or {"ok":false,"error":...}
// and exits 1. Progress goes to stderr.

import http from "node:http";
import { createRequire } from "node:module";
import { isDeepStrictEqual } from "node:util";

const require = createRequire(import.meta.url);
const { Svix, Webhook, ApiException, MessageStatus, BackgroundTaskStatus, BackgroundTaskType } = require("svix1");

const { ZD_URL, ZD_TOKEN } = process.env;
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const SINCE = new Date("2000-01-01T00:00:00Z");
const checks = [];
const log = (...a) => console.error("[sdk-tasks]", ...a);

class CheckFailed extends Error {}

function check(name, ok, detail) {
    if (!ok) throw new CheckFailed(`${name}: ${typeof detail === "function" ? detail() : detail ?? "failed"}`);
    checks.push(name);
}

const same = (name, actual, expected) =>
    check(name, isDeepStrictEqual(actual, expected), () => `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);

async function waitFor(what, probe, ms = 30_000) {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
        const v = await probe();
        if (v) return v;
    }
    throw new CheckFailed(`timed out waiting for ${what}`);
}

async function rejects(name, fn) {
    try {
        await fn();
    } catch (e) {
        check(`${name}.apiException`, e instanceof ApiException, () => `got ${e?.stack ?? e}`);
        return e;
    }
    throw new CheckFailed(`${name}: the call succeeded`);
}

/** The SDK types a task as {id, status, task, updatedAt} (BackgroundTaskOut adds data). */
function isTask(name, t, type) {
    check(`${name}.id`, typeof t.id === "string" && t.id.startsWith("qtask_"), () => JSON.stringify(t));
    check(`${name}.status`, Object.values(BackgroundTaskStatus).includes(t.status), () => JSON.stringify(t));
    same(`${name}.task`, t.task, type);
    check(`${name}.updatedAt`, t.updatedAt instanceof Date && !Number.isNaN(t.updatedAt.getTime()), () => JSON.stringify(t));
}

/** Polls the task through backgroundTask.get until it is no longer running; it must have finished. */
async function finished(svix, name, started, type) {
    isTask(name, started, type);
    const t = await waitFor(`${name} to finish`, async () => {
        const x = await svix.backgroundTask.get(started.id);
        return x.status === BackgroundTaskStatus.Running ? null : x;
    });
    isTask(`${name}.get`, t, type);
    same(`${name}.finished`, t.status, BackgroundTaskStatus.Finished);
    check(`${name}.data`, t.data && typeof t.data === "object", () => JSON.stringify(t));
    return t;
}

// ---- receivers: one server, a path per endpoint -----------------------------------------------

const received = {}; // path -> [{headers, body, json}]
let failing = true; // the application endpoint answers 500 while set

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const path = req.url;
        let json = null;
        try {
            json = JSON.parse(body);
        } catch {
            // left null: the checks on payloads fail
        }
        const status = path === "/app" && failing ? 500 : 200;
        (received[path] ??= []).push({ headers: { ...req.headers }, body, json, status });
        res.writeHead(status, { "content-type": "text/plain" });
        res.end(status < 300 ? "ok" : "no");
    });
});

const at = (path) => received[path] ?? [];

function verifies(secret, r) {
    try {
        new Webhook(secret).verify(r.body, r.headers);
        return true;
    } catch {
        return false;
    }
}

// ---- the scenario ------------------------------------------------------------------------------

async function main() {
    if (!ZD_URL || !ZD_TOKEN) throw new CheckFailed("set ZD_URL and ZD_TOKEN");
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${server.address().port}`;
    const svix = new Svix(ZD_TOKEN, { serverUrl: ZD_URL });
    const ops = svix.operationalWebhook.endpoint;

    // Operational endpoints: one for task events, one for endpoint health.
    const tasksOp = await ops.create({ url: `${base}/ops/tasks`, uid: `ops-tasks-${RUN}`, filterTypes: ["background_task.finished"],
        metadata: { team: "ops" }, description: "tasks" });
    check("opEndpoint.create.id", typeof tasksOp.id === "string", () => JSON.stringify(tasksOp));
    same("opEndpoint.create.filterTypes", tasksOp.filterTypes, ["background_task.finished"]);
    same("opEndpoint.create.metadata", tasksOp.metadata, { team: "ops" });
    check("opEndpoint.create.dates", tasksOp.createdAt instanceof Date && tasksOp.updatedAt instanceof Date, "dates");
    const healthOp = await svix.operationalWebhookEndpoint.create({ url: `${base}/ops/nowhere`, filterTypes: ["endpoint.disabled"], rateLimit: 50 });
    same("opEndpoint.create.rateLimit", healthOp.rateLimit, 50);
    const updated = await ops.update(healthOp.id, { url: `${base}/ops/health`, filterTypes: ["endpoint.disabled", "endpoint.enabled"],
        description: "health" });
    same("opEndpoint.update.url", updated.url, `${base}/ops/health`);
    same("opEndpoint.update.filterTypes", updated.filterTypes, ["endpoint.disabled", "endpoint.enabled"]);
    same("opEndpoint.get.byUid", (await ops.get(`ops-tasks-${RUN}`)).id, tasksOp.id);
    const listed = [];
    for (let iterator = null, page; !page?.done; iterator = page.iterator) {
        page = await ops.list({ limit: 1, iterator });
        listed.push(...page.data.map((e) => e.id));
    }
    check("opEndpoint.list", listed.includes(tasksOp.id) && listed.includes(healthOp.id), () => JSON.stringify(listed));
    await ops.updateHeaders(healthOp.id, { headers: { "X-Ops": "health" } });
    same("opEndpoint.headers", (await ops.getHeaders(healthOp.id)).headers, { "X-Ops": "health" });
    const tasksSecret = (await ops.getSecret(tasksOp.id)).key;
    const healthSecret = (await ops.getSecret(healthOp.id)).key;
    check("opEndpoint.secrets", tasksSecret.startsWith("whsec_") && healthSecret.startsWith("whsec_") && tasksSecret !== healthSecret, "secrets");

    // An application whose endpoint fails until told otherwise: three messages go dead.
    const app = await svix.application.create({ name: `tasks ${RUN}` });
    const ep = await svix.endpoint.create(app.id, { url: `${base}/app` });
    const msgs = [];
    for (let i = 0; i < 3; i++) msgs.push(await svix.message.create(app.id, { eventType: i === 2 ? "other.type" : "order.paid", payload: { i } }));
    await waitFor("three dead deliveries", async () => {
        const d = await Promise.all(msgs.map((m) => svix.messageAttempt.listAttemptedDestinations(app.id, m.id)));
        return d.every((x) => x.data.length === 1 && x.data[0].status === MessageStatus.Fail);
    });

    // Expunged content is not resent, and recover skips it.
    await svix.message.expungeContent(app.id, msgs[0].id);
    const refused = await rejects("resend.expunged", () => svix.messageAttempt.resend(app.id, msgs[0].id, ep.id));
    same("resend.expunged.code", refused.code, 409);
    same("resend.expunged.body", refused.body?.code, "content_expunged");
    failing = false;
    const recover = await finished(svix, "recover", await svix.endpoint.recover(app.id, ep.id, { since: SINCE }), BackgroundTaskType.EndpointRecover);
    same("recover.data.messagesSent", recover.data.messagesSent, 2);
    same("recover.data.skippedExpunged", recover.data.skippedExpunged, 1);
    const answered = (m) => at("/app").some((x) => x.headers["webhook-id"] === m.id && x.status === 200);
    await waitFor("the recovered messages", () => answered(msgs[1]) && answered(msgs[2]));
    check("recover.notExpunged", !answered(msgs[0]), "the expunged message was sent again");

    // A later endpoint gets what it missed, once, by its filter.
    const late = await svix.endpoint.create(app.id, { url: `${base}/late`, filterTypes: ["order.paid"] });
    const missing = await finished(svix, "replayMissing", await svix.endpoint.replayMissing(app.id, late.id, { since: SINCE }),
        BackgroundTaskType.EndpointReplay);
    same("replayMissing.data.messagesSent", missing.data.messagesSent, 1); // msgs[1]; msgs[0] was expunged, msgs[2] is other.type
    same("replayMissing.data.skippedExpunged", missing.data.skippedExpunged, 1);
    const again = await finished(svix, "replayMissing.again", await svix.endpoint.replayMissing(app.id, late.id, { since: SINCE }),
        BackgroundTaskType.EndpointReplay);
    same("replayMissing.again.messagesSent", again.data.messagesSent, 0);
    await waitFor("the missed message", () => at("/late").length === 1);
    same("replayMissing.webhookId", at("/late")[0].headers["webhook-id"], msgs[1].id);

    // Bulk replay of the successful deliveries of one event type.
    const before = at("/app").length;
    const bulk = await finished(svix, "bulkReplay", await svix.endpoint.bulkReplay(app.id, ep.id,
        { since: SINCE, status: MessageStatus.Success, eventTypes: ["other.type"] }), BackgroundTaskType.EndpointBulkReplay);
    same("bulkReplay.data.messagesSent", bulk.data.messagesSent, 1);
    await waitFor("the bulk-replayed message", () => at("/app").length === before + 1);
    same("bulkReplay.webhookId", at("/app").at(-1).headers["webhook-id"], msgs[2].id);

    // Expunge: svix 2's bulk-expunge (not in this SDK; its request as svix 2.5 sends it), then everything.
    const r = await fetch(`${ZD_URL}/api/v1/app/${app.id}/msg/bulk-expunge`, {
        method: "POST", headers: { authorization: `Bearer ${ZD_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ ids: [msgs[1].id, "msg_missing"] }) });
    same("bulkExpunge.status", r.status, 200);
    same("bulkExpunge.results", (await r.json()).results, { [msgs[1].id]: "expunged", msg_missing: "not-found" });
    const purge = await finished(svix, "expungeAllContents", await svix.message.expungeAllContents(app.id),
        BackgroundTaskType.ApplicationPurgeContent);
    same("expungeAllContents.data.messagesPurged", purge.data.messagesPurged, 1); // msgs[2]
    same("expungeAllContents.payload", (await svix.message.get(app.id, msgs[2].id)).payload, {});

    // Listing, filtered and paged.
    const recovers = await svix.backgroundTask.list({ task: BackgroundTaskType.EndpointRecover, status: BackgroundTaskStatus.Finished });
    check("backgroundTask.list.filter", recovers.data.some((t) => t.id === recover.id)
        && recovers.data.every((t) => t.task === BackgroundTaskType.EndpointRecover), () => JSON.stringify(recovers));
    const tasks = [];
    for (let iterator = null, page; !page?.done; iterator = page.iterator) {
        page = await svix.backgroundTask.list({ limit: 2, iterator });
        tasks.push(...page.data.map((t) => t.id));
    }
    const ours = [recover, missing, again, bulk, purge].map((t) => t.id);
    check("backgroundTask.list.paged", ours.every((id) => tasks.includes(id)) && new Set(tasks).size === tasks.length, () => JSON.stringify(tasks));
    const none = await rejects("backgroundTask.get.missing", () => svix.backgroundTask.get("qtask_missing"));
    same("backgroundTask.get.missing.code", none.code, 404);

    // The task endpoint got exactly one background_task.finished per task, signed with its secret only.
    await waitFor("a background_task.finished per task", () => ours.every((id) => at("/ops/tasks").some((x) => x.json?.data?.taskId === id)));
    check("ops.tasks.types", at("/ops/tasks").every((x) => x.json?.type === "background_task.finished"),
        () => JSON.stringify(at("/ops/tasks").map((x) => x.json?.type)));
    same("ops.tasks.once", at("/ops/tasks").filter((x) => ours.includes(x.json?.data?.taskId)).length, ours.length);
    same("ops.tasks.recover", at("/ops/tasks").find((x) => x.json.data.taskId === recover.id).json.data.data.messagesSent, 2);
    check("ops.tasks.verify", at("/ops/tasks").every((x) => verifies(tasksSecret, x) && !verifies(healthSecret, x)), "a signature");

    // Endpoint health: disabled, then, with a rotated secret, enabled; both secrets verify during the grace.
    await svix.endpoint.patch(app.id, ep.id, { disabled: true });
    await waitFor("endpoint.disabled", () => at("/ops/health").some((x) => x.json?.type === "endpoint.disabled"));
    await ops.rotateSecret(healthOp.id, {});
    const rotated = (await ops.getSecret(healthOp.id)).key;
    check("ops.rotate", rotated !== healthSecret, "the secret did not change");
    await svix.endpoint.patch(app.id, ep.id, { disabled: false });
    const enabled = await waitFor("endpoint.enabled", () => at("/ops/health").find((x) => x.json?.type === "endpoint.enabled"));
    same("ops.health.data", enabled.json.data.endpointId, ep.id);
    same("ops.health.header", enabled.headers["x-ops"], "health");
    check("ops.health.types", at("/ops/health").every((x) => ["endpoint.disabled", "endpoint.enabled"].includes(x.json?.type)), "types");
    check("ops.health.verify.old", verifies(healthSecret, enabled), "the old secret does not verify");
    check("ops.health.verify.new", verifies(rotated, enabled), "the new secret does not verify");
    check("ops.health.verify.notTasks", !verifies(tasksSecret, enabled), "another endpoint's secret verifies");
    check("ops.health.disabled.verify", verifies(healthSecret, at("/ops/health").find((x) => x.json?.type === "endpoint.disabled")), "signature");

    await ops.delete(healthOp.id);
    same("opEndpoint.delete", (await rejects("opEndpoint.get.deleted", () => ops.get(healthOp.id))).code, 404);
    await ops.delete(tasksOp.id);
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

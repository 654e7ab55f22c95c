// Drives a ZeroDrop server with the official Svix JavaScript SDK, unchanged, and verifies every
// delivery with two real Standard Webhooks verifiers: the `standardwebhooks` package and the
// `Webhook` class of the `svix` package (which bundles its own copy of standardwebhooks).
//
//   ZD_URL=http://127.0.0.1:8071 ZD_TOKEN=... ZD_SDK=1 node sdk-compat.mjs
//   ZD_URL=http://127.0.0.1:8071 ZD_TOKEN=... ZD_SDK=2 node_modules/node22/bin/node sdk-compat.mjs
//
// ZD_SDK picks the SDK's major: 1 is svix@1 (package alias svix1), 2 is svix@2 (alias svix2, which
// needs Node.js 22). The scenario is the same; where svix@2 renamed a call, `sdk` below maps it.
//
// Prints one JSON line on stdout at the end, {"ok":true,...} and exits 0, or {"ok":false,"error":...}
// and exits 1. Progress goes to stderr.

import http from "node:http";
import { isDeepStrictEqual } from "node:util";
import { Webhook as StandardWebhook } from "standardwebhooks";

const MAJOR = Number(process.env.ZD_SDK || 1);
if (MAJOR !== 1 && MAJOR !== 2) throw new Error(`ZD_SDK must be 1 or 2, not ${process.env.ZD_SDK}`);
const { Svix, Webhook: SvixWebhook, ApiException, MessageStatus, MessageAttemptTriggerType } =
    await import(MAJOR === 1 ? "svix1" : "svix2");

/** The calls that svix@2 renamed (update -> upsert, updateHeaders -> setHeaders), under one name. */
const sdk = {
    upsertEndpoint: (svix, ...a) => MAJOR === 1 ? svix.endpoint.update(...a) : svix.endpoint.upsert(...a),
    setHeaders: (svix, ...a) => MAJOR === 1 ? svix.endpoint.updateHeaders(...a) : svix.endpoint.setHeaders(...a),
    upsertEventType: (svix, ...a) => MAJOR === 1 ? svix.eventType.update(...a) : svix.eventType.upsert(...a),
};

const ZD_URL = process.env.ZD_URL;
const ZD_TOKEN = process.env.ZD_TOKEN;
const N = 20; // ordinary messages
const DEADLINE_MS = Number(process.env.ZD_WAIT_MS || 30_000);
const POLL_MS = 100;
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

const checks = {};
const log = (...a) => console.error(`[sdk-compat svix@${MAJOR}]`, ...a);

class CheckFailed extends Error {}

function check(name, cond, detail) {
    if (!cond) throw new CheckFailed(`${name}: ${typeof detail === "function" ? detail() : detail ?? "failed"}`);
    checks[name] = true;
}

function eq(name, actual, expected) {
    check(name, isDeepStrictEqual(actual, expected), () => `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value or the deadline passes. */
async function until(what, probe, deadlineMs = DEADLINE_MS) {
    const end = Date.now() + deadlineMs;
    let last;
    while (Date.now() < end) {
        last = await probe();
        if (last) return last;
        await sleep(POLL_MS);
    }
    throw new CheckFailed(`timed out after ${deadlineMs} ms waiting for ${what}`);
}

/** Collects every item of a Svix list, following `iterator` until `done`. */
async function all(fetchPage) {
    const out = [];
    let iterator = null;
    for (let pages = 0; pages < 1000; pages++) {
        const page = await fetchPage(iterator);
        shape("ListResponse", page, { data: "array", done: "boolean" });
        out.push(...page.data);
        if (page.done) return out;
        check("list.iterator.present", typeof page.iterator === "string" && page.iterator.length > 0, `page not done but iterator is ${page.iterator}`);
        iterator = page.iterator;
    }
    throw new CheckFailed("a list did not finish within 1000 pages");
}

/**
 * The SDK maps response JSON field by field and does not complain about missing fields (they become
 * undefined, and dates become Invalid Date), so each response is checked against the required fields
 * of the SDK's own model types (dist/models/*.d.ts).
 */
function shape(model, obj, spec) {
    check(`${model}.isObject`, obj !== null && typeof obj === "object", () => `${model} is ${JSON.stringify(obj)}`);
    for (const [field, type] of Object.entries(spec)) {
        const v = obj[field];
        const ok = (() => {
            switch (type) {
                case "date": return v instanceof Date && !Number.isNaN(v.getTime());
                case "date?": return v === undefined || v === null || (v instanceof Date && !Number.isNaN(v.getTime()));
                case "array": return Array.isArray(v);
                case "array?": return v === undefined || v === null || Array.isArray(v);
                case "object": return v !== null && typeof v === "object" && !Array.isArray(v);
                case "string?": return v === undefined || v === null || typeof v === "string";
                case "number?": return v === undefined || v === null || typeof v === "number";
                case "any": return v !== undefined;
                default:
                    if (Array.isArray(type)) return type.includes(v);
                    return typeof v === type;
            }
        })();
        check(`${model}.${field}`, ok, () => `${model}.${field} should be ${JSON.stringify(type)}, is ${JSON.stringify(v)} in ${JSON.stringify(obj)}`);
    }
}

const STATUS = [MessageStatus.Success, MessageStatus.Pending, MessageStatus.Fail, MessageStatus.Sending, MessageStatus.Canceled];
const STATUS_TEXT = ["success", "pending", "fail", "sending", "canceled"];
const TRIGGER = [MessageAttemptTriggerType.Scheduled, MessageAttemptTriggerType.Manual];

const APP = { id: "string", name: "string", metadata: "object", createdAt: "date", updatedAt: "date", uid: "string?" };
// svix@2 calls an endpoint's filterTypes eventTypes, and no longer maps its version.
const TYPES = MAJOR === 1 ? "filterTypes" : "eventTypes";
const VERSION = MAJOR === 1 ? { version: "number" } : {};
const ENDPOINT = { id: "string", url: "string", description: "string", metadata: "object", ...VERSION,
    createdAt: "date", updatedAt: "date", uid: "string?", [TYPES]: "array?", channels: "array?" };
const MESSAGE = { id: "string", eventType: "string", payload: "any", timestamp: "date", eventId: "string?", channels: "array?" };
const ATTEMPT = { id: "string", msgId: "string", endpointId: "string", url: "string", response: "string",
    responseStatusCode: "number", responseDurationMs: "number", status: STATUS, statusText: STATUS_TEXT,
    triggerType: TRIGGER, timestamp: "date" };
const ENDPOINT_MESSAGE = { id: "string", eventType: "string", payload: "any", timestamp: "date", status: STATUS,
    statusText: STATUS_TEXT, nextAttempt: "date?" };
const MESSAGE_ENDPOINT = { id: "string", url: "string", description: "string", ...VERSION, createdAt: "date",
    updatedAt: "date", status: STATUS, statusText: STATUS_TEXT, nextAttempt: "date?" };

/** Expects `fn` to reject with an ApiException; returns it. */
async function apiError(name, fn) {
    try {
        await fn();
    } catch (e) {
        check(`${name}.isApiException`, e instanceof ApiException, () => `expected an ApiException, got ${e?.stack ?? e}`);
        return e;
    }
    throw new CheckFailed(`${name}: expected an ApiException, but the call succeeded`);
}

// ---- the receiver ------------------------------------------------------------------------------

const received = []; // { id, headers, body, status, verified, at }
const secrets = []; // every secret the endpoint has had, newest last
let verified = 0;
let verifyFailures = 0;
const failureDetails = [];
const answeredOk = new Set(); // webhook-ids answered with 2xx
let releaseHeld = false; // messages with "failUntilRecovered" get 500 until this is set

/** Whether both verifiers accept the request under `secret`. Returns [standardwebhooks, svix]. */
function verifyWith(secret, body, headers) {
    const results = [];
    for (const make of [() => new StandardWebhook(secret), () => new SvixWebhook(secret)]) {
        try {
            make().verify(body, headers);
            results.push(true);
        } catch {
            results.push(false);
        }
    }
    return results;
}

const receiver = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const headers = { ...req.headers };
        const id = headers["webhook-id"];
        let ok = false;
        if (req.method !== "POST") {
            verifyFailures++;
            failureDetails.push(`${req.method} ${req.url}: not a POST`);
        } else {
            // Every secret the endpoint has had is a candidate; both verifiers must agree on each.
            let any = false;
            for (const s of secrets) {
                const [std, svx] = verifyWith(s, body, headers);
                if (std !== svx) {
                    any = false;
                    failureDetails.push(`${id}: the verifiers disagree (standardwebhooks=${std}, svix=${svx})`);
                    break;
                }
                if (std) any = true;
            }
            ok = any;
            if (ok) verified++;
            else {
                verifyFailures++;
                if (failureDetails.length < 20) failureDetails.push(`${id}: no known secret verifies it; headers=${JSON.stringify(headers)}`);
            }
        }
        let payload = null;
        try {
            payload = JSON.parse(body);
        } catch {
            // counted as a failure below by the checks on payloads
        }
        const previous = received.filter((r) => r.id === id).length;
        let status = 200;
        if (payload?.failFirst === true && previous === 0) status = 500;
        if (payload?.failUntilRecovered === true && !releaseHeld) status = 500;
        received.push({ id, headers, body, payload, status, verified: ok, path: req.url, at: Date.now() });
        if (status < 300) answeredOk.add(id);
        res.writeHead(status, { "content-type": "text/plain" });
        res.end(status < 300 ? "ok" : "try again");
    });
});

function listen() {
    return new Promise((resolve, reject) => {
        receiver.once("error", reject);
        receiver.listen(0, "127.0.0.1", () => resolve(receiver.address().port));
    });
}

function closeReceiver() {
    return new Promise((resolve) => {
        receiver.closeAllConnections?.();
        receiver.close(() => resolve());
    });
}

// ---- the scenario ------------------------------------------------------------------------------

async function main() {
    if (!ZD_URL || !ZD_TOKEN) throw new CheckFailed("set ZD_URL and ZD_TOKEN");
    const port = await listen();
    const hookUrl = `http://127.0.0.1:${port}/hook/${RUN}`;
    log(`Node.js ${process.version}, receiver on ${hookUrl}, server ${ZD_URL}`);

    const svix = new Svix(ZD_TOKEN, { serverUrl: ZD_URL });

    // health
    const health = await svix.health.get();
    eq("health.get", health, undefined);

    // a wrong token is a 401 ApiException
    const unauth = await apiError("auth.badToken", () => new Svix("not-the-token", { serverUrl: ZD_URL }).application.list());
    eq("auth.badToken.code", unauth.code, 401);

    // applications
    const appUid = `sdk-app-${RUN}`;
    const app = await svix.application.create({ name: "SDK compat", uid: appUid, metadata: { suite: "sdk" } });
    shape("ApplicationOut", app, APP);
    check("application.create.id", app.id.startsWith("app_"), () => `id ${app.id}`);
    eq("application.create.uid", app.uid, appUid);
    eq("application.create.metadata", app.metadata, { suite: "sdk" });

    const again = await svix.application.getOrCreate({ name: "ignored", uid: appUid });
    eq("application.getOrCreate.existing", again.id, app.id);
    const other = await svix.application.getOrCreate({ name: "SDK compat 2", uid: `sdk-app2-${RUN}` });
    shape("ApplicationOut", other, APP);
    check("application.getOrCreate.new", other.id !== app.id, "getOrCreate with a new uid returned the first application");

    const byUid = await svix.application.get(appUid);
    eq("application.get.byUid", byUid.id, app.id);

    const apps = await all((iterator) => svix.application.list({ limit: 1, iterator }));
    apps.forEach((a) => shape("ApplicationOut", a, APP));
    check("application.list", apps.some((a) => a.id === app.id) && apps.some((a) => a.id === other.id),
        () => `list has ${apps.map((a) => a.id)}`);
    eq("application.list.unique", new Set(apps.map((a) => a.id)).size, apps.length);

    const missing = await apiError("application.get.missing", () => svix.application.get(`no-such-app-${RUN}`));
    eq("application.get.missing.code", missing.code, 404);
    check("error.body", typeof missing.body?.code === "string" && typeof missing.body?.detail === "string",
        () => `error body ${JSON.stringify(missing.body)}`);

    // event type
    const eventType = `invoice.paid.${RUN}`;
    const et = await svix.eventType.create({ name: eventType, description: "An invoice was paid" });
    shape("EventTypeOut", et, { name: "string", description: "string", deprecated: "boolean", createdAt: "date", updatedAt: "date" });
    eq("eventType.create.name", et.name, eventType);
    eq("eventType.get", (await svix.eventType.get(eventType)).description, "An invoice was paid");

    // an event type with feature flags, a group and schema examples (send-example uses them below)
    const exampleType = `invoice.example.${RUN}`;
    const examples = [{ invoiceId: `inv-1-${RUN}`, amount: 100 }, { invoiceId: `inv-2-${RUN}`, amount: 200 }];
    const exampleSchemas = { 1: { type: "object", examples } };
    const ex = await svix.eventType.create({ name: exampleType, description: "With examples", featureFlags: ["beta-flag"],
        groupName: "invoice", schemas: exampleSchemas });
    eq("eventType.create.featureFlags", ex.featureFlags, ["beta-flag"]);
    eq("eventType.create.groupName", ex.groupName, "invoice");
    const exGot = await svix.eventType.get(exampleType);
    eq("eventType.get.fields", [exGot.featureFlags, exGot.groupName, exGot.schemas], [["beta-flag"], "invoice", exampleSchemas]);
    const exUp = await sdk.upsertEventType(svix, exampleType, { description: "With examples", featureFlags: ["beta-flag", "gamma"],
        groupName: "billing", schemas: exampleSchemas });
    eq("eventType.upsert.fields", [exUp.featureFlags, exUp.groupName], [["beta-flag", "gamma"], "billing"]);
    const exPatched = await svix.eventType.patch(exampleType, { groupName: "invoice" });
    eq("eventType.patch.fields", [exPatched.featureFlags, exPatched.groupName], [["beta-flag", "gamma"], "invoice"]);
    const typesBare = await all((iterator) => svix.eventType.list({ iterator, withContent: false }));
    const bareEx = typesBare.find((t) => t.name === exampleType);
    check("eventType.list.withoutContent", bareEx && bareEx.schemas == null && bareEx.groupName === "invoice",
        () => `listed ${JSON.stringify(bareEx)}`);
    const typesFull = await all((iterator) => svix.eventType.list({ iterator, withContent: true }));
    eq("eventType.list.withContent", typesFull.find((t) => t.name === exampleType)?.schemas, exampleSchemas);

    // endpoint
    const epUid = `sdk-ep-${RUN}`;
    const statsFrom = new Date(); // no delivery to the endpoint is older
    const ep = await svix.endpoint.create(app.id, {
        url: hookUrl,
        uid: epUid,
        description: "SDK compat receiver",
        [TYPES]: [eventType],
        metadata: { owner: "sdk-compat" },
    });
    shape("EndpointOut", ep, ENDPOINT);
    check("endpoint.create.id", ep.id.startsWith("ep_"), () => `id ${ep.id}`);
    eq("endpoint.create.url", ep.url, hookUrl);
    eq("endpoint.create.uid", ep.uid, epUid);
    eq("endpoint.create.filterTypes", ep[TYPES], [eventType]);
    check("endpoint.create.channels", ep.channels === undefined || ep.channels === null, () => `channels ${JSON.stringify(ep.channels)}`);
    eq("endpoint.create.metadata", ep.metadata, { owner: "sdk-compat" });

    eq("endpoint.get.byUid", (await svix.endpoint.get(app.id, epUid)).id, ep.id);
    const got = await svix.endpoint.get(appUid, ep.id);
    shape("EndpointOut", got, ENDPOINT);
    eq("endpoint.get.filterTypes", got[TYPES], [eventType]);

    const updated = await sdk.upsertEndpoint(svix, app.id, ep.id, {
        url: hookUrl,
        uid: epUid,
        description: "updated",
        [TYPES]: [eventType],
        metadata: { owner: "sdk-compat", step: "update" },
    });
    shape("EndpointOut", updated, ENDPOINT);
    eq("endpoint.update.description", updated.description, "updated");
    eq("endpoint.update.metadata", updated.metadata, { owner: "sdk-compat", step: "update" });

    const patched = await svix.endpoint.patch(app.id, ep.id, { description: "patched" });
    shape("EndpointOut", patched, ENDPOINT);
    eq("endpoint.patch.description", patched.description, "patched");
    eq("endpoint.patch.keepsFilterTypes", patched[TYPES], [eventType]);
    eq("endpoint.patch.keepsMetadata", patched.metadata, { owner: "sdk-compat", step: "update" });
    eq("endpoint.patch.keepsUrl", patched.url, hookUrl);

    const eps = await all((iterator) => svix.endpoint.list(app.id, { limit: 10, iterator }));
    eq("endpoint.list", eps.map((e) => e.id), [ep.id]);

    // headers
    await sdk.setHeaders(svix, app.id, ep.id, { headers: { "X-Sdk-Compat": RUN, Authorization: "Bearer receiver-secret" } });
    const hdrs = await svix.endpoint.getHeaders(app.id, ep.id);
    shape("EndpointHeadersOut", hdrs, { headers: "object", sensitive: "array" });
    eq("endpoint.getHeaders.headers", hdrs.headers, { "X-Sdk-Compat": RUN });
    eq("endpoint.getHeaders.sensitive", hdrs.sensitive, ["Authorization"]);

    // secret
    const secret1 = await svix.endpoint.getSecret(app.id, ep.id);
    shape("EndpointSecretOut", secret1, { key: "string" });
    check("endpoint.getSecret.format", /^whsec_[A-Za-z0-9+/]+=*$/.test(secret1.key), () => `secret ${secret1.key}`);
    secrets.push(secret1.key);

    // a message whose type the endpoint does not subscribe to goes nowhere
    const filtered = await svix.message.create(app.id, { eventType: `other.type.${RUN}`, payload: { filtered: true } });
    shape("MessageOut", filtered, MESSAGE);

    // messages
    const sent = []; // { id, eventId, payload }
    for (let i = 0; i < N; i++) {
        const payload = { i, run: RUN, text: "grüße ✓ \"quoted\" </tag>", nested: { list: [1, 2.5, null, true], empty: {} } };
        if (i === 3) payload.failFirst = true;
        const eventId = i % 4 === 0 ? `evt-${RUN}-${i}` : undefined;
        const m = await svix.message.create(app.id, { eventType, payload, ...(eventId ? { eventId } : {}) });
        shape("MessageOut", m, MESSAGE);
        check("message.create.id", m.id.startsWith("msg_"), () => `id ${m.id}`);
        eq("message.create.eventType", m.eventType, eventType);
        eq("message.create.eventId", m.eventId ?? undefined, eventId);
        sent.push({ id: m.id, eventId, payload });
    }
    eq("message.create.uniqueIds", new Set(sent.map((m) => m.id)).size, N);

    // the same idempotency key twice gives the same message
    const idemKey = `idem-${RUN}`;
    const idemPayload = { idempotent: true, run: RUN };
    const idem1 = await svix.message.create(app.id, { eventType, payload: idemPayload }, { idempotencyKey: idemKey });
    const idem2 = await svix.message.create(app.id, { eventType, payload: idemPayload }, { idempotencyKey: idemKey });
    eq("message.create.idempotencyKey", idem2.id, idem1.id);
    sent.push({ id: idem1.id, payload: idemPayload });

    // a message the receiver refuses until it is recovered
    const heldPayload = { failUntilRecovered: true, run: RUN };
    const held = await svix.message.create(app.id, { eventType, payload: heldPayload, eventId: `held-${RUN}` });
    sent.push({ id: held.id, eventId: `held-${RUN}`, payload: heldPayload });

    // read one back, by id and by eventId
    const probe = sent[4];
    const read = await svix.message.get(app.id, probe.id, { withContent: true });
    shape("MessageOut", read, MESSAGE);
    eq("message.get.payload", read.payload, probe.payload);
    eq("message.get.eventId", read.eventId, probe.eventId);
    eq("message.get.eventType", read.eventType, eventType);
    eq("message.get.byEventId", (await svix.message.get(app.id, probe.eventId)).id, probe.id);
    // svix@1 asks for the payload unless told not to, svix@2 only when told to
    eq("message.get.defaultContent", (await svix.message.get(app.id, probe.id)).payload, MAJOR === 1 ? probe.payload : {});

    // list messages, paged
    const listed = await all((iterator) => svix.message.list(app.id, { limit: 7, iterator, withContent: true }));
    listed.forEach((m) => shape("MessageOut", m, MESSAGE));
    const listedIds = new Set(listed.map((m) => m.id));
    eq("message.list.count", listed.length, sent.length + 1);
    check("message.list.all", sent.every((m) => listedIds.has(m.id)) && listedIds.has(filtered.id), "a message is missing from message.list");
    eq("message.list.payload", listed.find((m) => m.id === probe.id).payload, probe.payload);
    const byType = await svix.message.list(app.id, { eventTypes: [eventType], limit: 250 });
    eq("message.list.eventTypes", byType.data.length, sent.length);

    // repeated eventId: 409
    const dup = await apiError("message.create.duplicateEventId", () =>
        svix.message.create(app.id, { eventType, payload: { dup: true }, eventId: sent[0].eventId }));
    eq("message.create.duplicateEventId.code", dup.code, 409);
    check("message.create.duplicateEventId.body", typeof dup.body?.code === "string" && typeof dup.body?.detail === "string",
        () => `body ${JSON.stringify(dup.body)}`);

    // missing eventType: 4xx (the SDK's types would forbid it; plain JS lets it through)
    const bad = await apiError("message.create.missingEventType", () => svix.message.create(app.id, { payload: { bad: true } }));
    check("message.create.missingEventType.code", bad.code >= 400 && bad.code < 500, () => `code ${bad.code}`);
    check("message.create.missingEventType.body", bad.body && typeof bad.body === "object" && "detail" in bad.body,
        () => `body ${JSON.stringify(bad.body)}`);

    // wait for delivery of everything but the held message, and for the held one to fail for good
    const deliverable = sent.filter((m) => m.id !== held.id);
    await until("every message to be answered 2xx by the receiver", () => deliverable.every((m) => answeredOk.has(m.id)));
    await until("the server to record every delivery as successful", async () => {
        const ok = await all((iterator) =>
            svix.messageAttempt.listAttemptedMessages(app.id, ep.id, { status: MessageStatus.Success, limit: 250, iterator }));
        const ids = new Set(ok.map((m) => m.id));
        return deliverable.every((m) => ids.has(m.id));
    });
    await until("the held message to fail for good", async () => {
        const d = await svix.messageAttempt.listAttemptedDestinations(app.id, held.id);
        return d.data.length === 1 && d.data[0].status === MessageStatus.Fail;
    });
    check("delivery.heldRefused", !answeredOk.has(held.id), "the held message was answered 2xx before recovery");

    // what the receiver got
    for (const m of deliverable) {
        const reqs = received.filter((r) => r.id === m.id);
        check("delivery.payload", reqs.every((r) => isDeepStrictEqual(r.payload, m.payload)),
            () => `payload of ${m.id}: ${reqs.map((r) => r.body)}`);
    }
    check("delivery.customHeader", received.every((r) => r.headers["x-sdk-compat"] === RUN), "a delivery lacks the endpoint header");
    check("delivery.sensitiveHeader", received.every((r) => r.headers.authorization === "Bearer receiver-secret"),
        "a delivery lacks the sensitive endpoint header");
    check("delivery.path", received.every((r) => r.path === `/hook/${RUN}`), "a delivery went to the wrong path");
    check("delivery.filterTypes", !received.some((r) => r.id === filtered.id), "the unsubscribed message was delivered");
    eq("messageAttempt.listAttemptedDestinations.filtered", (await svix.messageAttempt.listAttemptedDestinations(app.id, filtered.id)).data, []);
    const failFirst = sent[3];
    eq("delivery.failFirst.requests", received.filter((r) => r.id === failFirst.id).map((r) => r.status), [500, 200]);

    // attempts by message
    const ffAttempts = await all((iterator) => svix.messageAttempt.listByMsg(app.id, failFirst.id, { iterator, withContent: true }));
    ffAttempts.forEach((a) => shape("MessageAttemptOut", a, ATTEMPT));
    eq("messageAttempt.listByMsg.count", ffAttempts.length, 2);
    eq("messageAttempt.listByMsg.codes", ffAttempts.map((a) => a.responseStatusCode).sort(), [200, 500]);
    const failed = ffAttempts.find((a) => a.responseStatusCode === 500);
    const succeeded = ffAttempts.find((a) => a.responseStatusCode === 200);
    eq("messageAttempt.failed.status", [failed.status, failed.statusText], [MessageStatus.Fail, "fail"]);
    eq("messageAttempt.succeeded.status", [succeeded.status, succeeded.statusText], [MessageStatus.Success, "success"]);
    eq("messageAttempt.ids", [failed.msgId, failed.endpointId, failed.url], [failFirst.id, ep.id, hookUrl]);
    eq("messageAttempt.response", succeeded.response, "ok");
    eq("messageAttempt.triggerType", succeeded.triggerType, MessageAttemptTriggerType.Scheduled);
    const onlyFailed = await svix.messageAttempt.listByMsg(app.id, failFirst.id, { status: MessageStatus.Fail });
    eq("messageAttempt.listByMsg.statusFilter", onlyFailed.data.map((a) => a.id), [failed.id]);
    const byEpFilter = await svix.messageAttempt.listByMsg(app.id, failFirst.id, { endpointId: ep.id });
    eq("messageAttempt.listByMsg.endpointFilter", byEpFilter.data.length, 2);
    const byEpUid = await svix.messageAttempt.listByMsg(app.id, failFirst.id, { endpointId: epUid });
    eq("messageAttempt.listByMsg.endpointUidFilter", byEpUid.data.map((a) => a.id).sort(), byEpFilter.data.map((a) => a.id).sort());
    const unknownEp = await apiError("messageAttempt.listByMsg.unknownEndpoint", () =>
        svix.messageAttempt.listByMsg(app.id, failFirst.id, { endpointId: `no-such-ep-${RUN}` }));
    eq("messageAttempt.listByMsg.unknownEndpoint.code", unknownEp.code, 404);

    // without content an attempt's response reads {}, as Svix answers
    const bare = await svix.messageAttempt.listByMsg(app.id, failFirst.id, { withContent: false });
    check("messageAttempt.listByMsg.withoutContent", bare.data.length === 2 && bare.data.every((a) => a.response === "{}"),
        () => `responses ${JSON.stringify(bare.data.map((a) => a.response))}`);
    const byDefault = await svix.messageAttempt.listByMsg(app.id, failFirst.id);
    eq("messageAttempt.listByMsg.defaultContent", byDefault.data.find((a) => a.id === succeeded.id).response, MAJOR === 1 ? "ok" : "{}");
    const epBare = await svix.messageAttempt.listByEndpoint(app.id, ep.id, { withContent: false, limit: 5 });
    check("messageAttempt.listByEndpoint.withoutContent", epBare.data.length > 0 && epBare.data.every((a) => a.response === "{}"),
        () => `responses ${JSON.stringify(epBare.data.map((a) => a.response))}`);

    // one attempt
    const one = await svix.messageAttempt.get(app.id, failFirst.id, failed.id);
    shape("MessageAttemptOut", one, ATTEMPT);
    eq("messageAttempt.get", [one.id, one.responseStatusCode, one.status], [failed.id, 500, MessageStatus.Fail]);

    // attempts by endpoint, paged
    const epAttempts = await all((iterator) => svix.messageAttempt.listByEndpoint(app.id, ep.id, { limit: 10, iterator }));
    epAttempts.forEach((a) => shape("MessageAttemptOut", a, ATTEMPT));
    // every delivered message, the failed first try of failFirst, and at least one try of the held message
    check("messageAttempt.listByEndpoint.count", epAttempts.length >= deliverable.length + 2,
        () => `${epAttempts.length} attempts for ${deliverable.length} messages`);
    eq("messageAttempt.listByEndpoint.unique", new Set(epAttempts.map((a) => a.id)).size, epAttempts.length);
    check("messageAttempt.listByEndpoint.all", deliverable.every((m) => epAttempts.some((a) => a.msgId === m.id && a.status === MessageStatus.Success)),
        "a delivered message has no successful attempt in listByEndpoint");
    const epSuccess = await all((iterator) =>
        svix.messageAttempt.listByEndpoint(app.id, ep.id, { statusCodeClass: 200, limit: 250, iterator }));
    check("messageAttempt.listByEndpoint.statusCodeClass", epSuccess.length >= deliverable.length && epSuccess.every((a) => a.responseStatusCode >= 200 && a.responseStatusCode < 300),
        () => `statusCodeClass=200 gave ${epSuccess.map((a) => a.responseStatusCode)}`);

    // attempted destinations and attempted messages
    const dests = await svix.messageAttempt.listAttemptedDestinations(app.id, failFirst.id);
    dests.data.forEach((d) => shape("MessageEndpointOut", d, MESSAGE_ENDPOINT));
    eq("messageAttempt.listAttemptedDestinations.eventTypes", dests.data[0]?.[TYPES], [eventType]);
    eq("messageAttempt.listAttemptedDestinations", dests.data.map((d) => [d.id, d.url, d.status, d.statusText]),
        [[ep.id, hookUrl, MessageStatus.Success, "success"]]);
    const attemptedMsgs = await all((iterator) => svix.messageAttempt.listAttemptedMessages(app.id, ep.id, { limit: 9, iterator, withContent: true }));
    attemptedMsgs.forEach((m) => shape("EndpointMessageOut", m, ENDPOINT_MESSAGE));
    eq("messageAttempt.listAttemptedMessages.count", attemptedMsgs.length, sent.length);
    eq("messageAttempt.listAttemptedMessages.payload", attemptedMsgs.find((m) => m.id === probe.id).payload, probe.payload);
    eq("messageAttempt.listAttemptedMessages.held", attemptedMsgs.find((m) => m.id === held.id).status, MessageStatus.Fail);

    // resend one message: the receiver sees the same webhook-id again
    const resendMsg = sent[7];
    const before = received.filter((r) => r.id === resendMsg.id).length;
    const resent = await svix.messageAttempt.resend(app.id, resendMsg.id, ep.id);
    check("messageAttempt.resend.result", resent !== null && typeof resent === "object", () => `resend returned ${JSON.stringify(resent)}`);
    await until("the resent message to arrive again", () => received.filter((r) => r.id === resendMsg.id && r.status === 200).length > before);
    await until("the manual attempt to be recorded", async () => {
        const a = await svix.messageAttempt.listByMsg(app.id, resendMsg.id);
        return a.data.some((x) => x.triggerType === MessageAttemptTriggerType.Manual && x.status === MessageStatus.Success);
    });
    checks["messageAttempt.resend"] = true;

    // recover: the failed message goes out again, and now the receiver takes it
    releaseHeld = true;
    const recovered = await svix.endpoint.recover(app.id, ep.id, { since: new Date(Date.now() - 3_600_000) });
    shape("RecoverOut", recovered, { id: "string", status: ["running", "finished", "failed"], task: ["endpoint.recover"], updatedAt: "date" });
    await until("the recovered message to be delivered", () => answeredOk.has(held.id));
    await until("the recovered delivery to be recorded", async () => {
        const d = await svix.messageAttempt.listAttemptedDestinations(app.id, held.id);
        return d.data.length === 1 && d.data[0].status === MessageStatus.Success;
    });
    checks["endpoint.recover"] = true;

    // rotate the secret: new deliveries carry two v1 signatures and verify with the new secret
    await svix.endpoint.rotateSecret(app.id, ep.id, {});
    const secret2 = await svix.endpoint.getSecret(app.id, ep.id);
    check("endpoint.rotateSecret.changed", secret2.key !== secret1.key && secret2.key.startsWith("whsec_"), "the secret did not change");
    secrets.push(secret2.key);
    const rotPayload = { afterRotation: true, run: RUN };
    const rot = await svix.message.create(app.id, { eventType, payload: rotPayload });
    sent.push({ id: rot.id, payload: rotPayload });
    await until("the post-rotation message to arrive", () => answeredOk.has(rot.id));
    const rotReq = received.find((r) => r.id === rot.id);
    const sigs = rotReq.headers["webhook-signature"].split(" ");
    check("rotation.twoSignatures", sigs.length === 2 && sigs.every((s) => s.startsWith("v1,")), () => `webhook-signature ${rotReq.headers["webhook-signature"]}`);
    eq("rotation.verifiesWithNewSecret", verifyWith(secret2.key, rotReq.body, rotReq.headers), [true, true]);
    eq("rotation.verifiesWithOldSecret", verifyWith(secret1.key, rotReq.body, rotReq.headers), [true, true]);
    // and a tampered body is rejected by both, so the verifiers are really checking
    eq("rotation.tamperedRejected", verifyWith(secret2.key, rotReq.body.replace("true", "false"), rotReq.headers), [false, false]);
    // requests before the rotation carry one signature, by the old secret only
    const early = received.find((r) => r.id === sent[0].id);
    eq("delivery.oneSignatureBeforeRotation", early.headers["webhook-signature"].split(" ").length, 1);
    eq("delivery.oldOnlyBeforeRotation", verifyWith(secret2.key, early.body, early.headers), [false, false]);

    // stats: counts of this endpoint's deliveries, in a time range, once the last one is recorded
    // (the receiver's answer arrives before the outcome is committed)
    await until("the post-rotation delivery to be recorded", async () => {
        const d = await svix.messageAttempt.listAttemptedDestinations(app.id, rot.id);
        return d.data.length === 1 && d.data[0].status === MessageStatus.Success;
    });
    const statsAll = await svix.endpoint.getStats(app.id, ep.id);
    const STATS = { success: "number", pending: "number", sending: "number", fail: "number", canceled: "number" };
    shape("EndpointStats", statsAll, STATS);
    const total = (x) => x.success + x.pending + x.sending + x.fail + x.canceled;
    eq("endpoint.getStats.all", [statsAll.success, total(statsAll)], [sent.length, sent.length]);
    eq("endpoint.getStats.since", await svix.endpoint.getStats(app.id, ep.id, { since: statsFrom }), statsAll);
    eq("endpoint.getStats.until", total(await svix.endpoint.getStats(app.id, ep.id, { until: statsFrom })), 0);
    eq("endpoint.getStats.future", total(await svix.endpoint.getStats(app.id, ep.id, { since: new Date(Date.now() + 3_600_000) })), 0);
    const badRange = await apiError("endpoint.getStats.badRange", () =>
        svix.endpoint.getStats(app.id, ep.id, { since: new Date(), until: statsFrom }));
    eq("endpoint.getStats.badRange.code", badRange.code, 422);

    // deleteHeaders removes a header (whatever its case) from every delivery after it
    await svix.endpoint.patchHeaders(app.id, ep.id, { headers: { "X-Patched": "yes" }, deleteHeaders: ["authorization"] });
    const hdrs2 = await svix.endpoint.getHeaders(app.id, ep.id);
    eq("endpoint.patchHeaders.headers", hdrs2.headers, { "X-Sdk-Compat": RUN, "X-Patched": "yes" });
    eq("endpoint.patchHeaders.sensitive", hdrs2.sensitive, []);
    const setAndDelete = await apiError("endpoint.patchHeaders.setAndDelete", () =>
        svix.endpoint.patchHeaders(app.id, ep.id, { headers: { "X-Patched": "no" }, deleteHeaders: ["x-patched"] }));
    check("endpoint.patchHeaders.setAndDelete.field", setAndDelete.code === 422 && JSON.stringify(setAndDelete.body).includes("deleteHeaders"),
        () => `${setAndDelete.code} ${JSON.stringify(setAndDelete.body)}`);
    const afterDelete = await svix.message.create(app.id, { eventType, payload: { afterHeaderDelete: true, run: RUN } });
    sent.push({ id: afterDelete.id, payload: { afterHeaderDelete: true, run: RUN } });
    await until("the message after the header deletion to arrive", () => answeredOk.has(afterDelete.id));
    const afterReq = received.find((r) => r.id === afterDelete.id);
    eq("delivery.afterDeleteHeaders", [afterReq.headers.authorization, afterReq.headers["x-patched"], afterReq.headers["x-sdk-compat"]],
        [undefined, "yes", RUN]);

    // tags, and the tag filter of the message and attempt lists; the retention fields are validated
    const taggedPayload = { tagged: true, run: RUN };
    const tagged = await svix.message.create(app.id, { eventType, payload: taggedPayload, tags: ["tag-a", "grp/x#1"],
        payloadRetentionPeriod: 30 });
    eq("message.create.tags", tagged.tags, ["tag-a", "grp/x#1"]);
    const hoursPayload = { hours: true, run: RUN };
    const hoursMsg = await svix.message.create(app.id, { eventType, payload: hoursPayload, tags: ["tag-b"], payloadRetentionHours: 12 });
    sent.push({ id: tagged.id, payload: taggedPayload }, { id: hoursMsg.id, payload: hoursPayload });
    eq("message.get.tags", (await svix.message.get(app.id, tagged.id)).tags, ["tag-a", "grp/x#1"]);
    eq("message.list.tag", (await svix.message.list(app.id, { tag: "tag-a" })).data.map((m) => m.id), [tagged.id]);
    eq("message.list.tagWithSlash", (await svix.message.list(app.id, { tag: "grp/x#1" })).data.map((m) => m.id), [tagged.id]);
    await until("the tagged messages' successful attempts", async () => {
        const a = await svix.messageAttempt.listByEndpoint(app.id, ep.id, { tag: "tag-b", status: MessageStatus.Success });
        const b = await svix.messageAttempt.listByEndpoint(app.id, ep.id, { tag: "tag-a", status: MessageStatus.Success });
        return a.data.length === 1 && b.data.length === 1;
    });
    const tagAttempts = await svix.messageAttempt.listByEndpoint(app.id, ep.id, { tag: "tag-a" });
    check("messageAttempt.listByEndpoint.tag", tagAttempts.data.length > 0 && tagAttempts.data.every((a) => a.msgId === tagged.id),
        () => `attempts ${JSON.stringify(tagAttempts.data.map((a) => a.msgId))}`);
    eq("messageAttempt.listAttemptedMessages.tag",
        (await svix.messageAttempt.listAttemptedMessages(app.id, ep.id, { tag: "tag-b" })).data.map((m) => [m.id, m.tags]),
        [[hoursMsg.id, ["tag-b"]]]);
    eq("messageAttempt.listByMsg.tag", [
        (await svix.messageAttempt.listByMsg(app.id, hoursMsg.id, { tag: "tag-a" })).data.length,
        (await svix.messageAttempt.listByMsg(app.id, hoursMsg.id, { tag: "tag-b" })).data.length], [0, 1]);
    for (const [name, body, field] of [
        ["both", { payloadRetentionPeriod: 30, payloadRetentionHours: 5 }, "payloadRetentionHours"],
        ["periodTooLong", { payloadRetentionPeriod: 91 }, "payloadRetentionPeriod"],
        ["hoursTooLong", { payloadRetentionHours: 2161 }, "payloadRetentionHours"],
        ["badTag", { tags: ["bad tag"] }, "tags"],
        ["tooManyTags", { tags: ["a", "b", "c", "d", "e", "f"] }, "tags"]]) {
        const e = await apiError(`message.create.${name}`, () => svix.message.create(app.id, { eventType, payload: { refused: true }, ...body }));
        check(`message.create.${name}.field`, e.code === 422 && e.body?.detail?.some((d) => d.loc?.includes(field)),
            () => `${e.code} ${JSON.stringify(e.body)}`);
    }

    // send-example: the event type's schema example, chosen by exampleIndex, or the svix.ping payload
    const ex0 = await svix.endpoint.sendExample(app.id, ep.id, { eventType: exampleType });
    shape("MessageOut", ex0, MESSAGE);
    eq("endpoint.sendExample.example", [ex0.eventType, ex0.payload], [exampleType, examples[0]]);
    const ex1 = await svix.endpoint.sendExample(app.id, ep.id, { eventType: exampleType, exampleIndex: 1 });
    eq("endpoint.sendExample.exampleIndex", ex1.payload, examples[1]);
    const ping = await svix.endpoint.sendExample(app.id, ep.id, { eventType: "svix.ping" });
    eq("endpoint.sendExample.ping", [ping.eventType, ping.payload], ["svix.ping", { data: { success: true }, type: "svix.ping" }]);
    sent.push({ id: ex0.id, payload: examples[0] }, { id: ex1.id, payload: examples[1] }, { id: ping.id, payload: ping.payload });
    await until("the examples to arrive", () => [ex0, ex1, ping].every((m) => answeredOk.has(m.id)));
    eq("delivery.sendExample", [ex0, ex1].map((m) => received.find((r) => r.id === m.id).payload), examples);
    const unknownType = await apiError("endpoint.sendExample.unknownType", () =>
        svix.endpoint.sendExample(app.id, ep.id, { eventType: `no.such.type.${RUN}` }));
    check("endpoint.sendExample.unknownType.field", unknownType.code === 422 && JSON.stringify(unknownType.body).includes("eventType"),
        () => `${unknownType.code} ${JSON.stringify(unknownType.body)}`);
    const badIndex = await apiError("endpoint.sendExample.badIndex", () =>
        svix.endpoint.sendExample(app.id, ep.id, { eventType: exampleType, exampleIndex: 2 }));
    check("endpoint.sendExample.badIndex.field", badIndex.code === 422 && JSON.stringify(badIndex.body).includes("exampleIndex"),
        () => `${badIndex.code} ${JSON.stringify(badIndex.body)}`);

    // two requests with one idempotency key at once: the later one waits for the first, and both get one message
    const raceKey = `race-${RUN}`;
    const racePayload = { race: true, run: RUN };
    const raced = await Promise.all([0, 1].map(() => svix.message.create(app.id, { eventType, payload: racePayload }, { idempotencyKey: raceKey })));
    eq("message.create.concurrentIdempotencyKey", raced[1].id, raced[0].id);
    sent.push({ id: raced[0].id, payload: racePayload });
    const racedCopies = (await all((iterator) => svix.message.list(app.id, { limit: 250, iterator, withContent: true })))
        .filter((m) => m.payload?.race === true);
    eq("message.create.concurrentIdempotencyKey.once", racedCopies.length, 1);
    await until("every later message to be answered 2xx", () => sent.every((m) => m.id === held.id || answeredOk.has(m.id)));

    // the standard headers are well formed
    for (const r of received) {
        check("delivery.headers", typeof r.headers["webhook-id"] === "string" && /^\d+$/.test(r.headers["webhook-timestamp"] ?? "")
            && r.headers["content-type"]?.startsWith("application/json"), () => `headers ${JSON.stringify(r.headers)}`);
    }

    return { sent: sent.length, requests: received.length };
}

const watchdog = setTimeout(() => {
    console.log(JSON.stringify({ ok: false, error: "watchdog: the script did not finish in time", checks }));
    process.exit(2);
}, Number(process.env.ZD_SCRIPT_TIMEOUT_MS || 110_000));
watchdog.unref();

let exitCode = 0;
try {
    const r = await main();
    const ok = verifyFailures === 0 && verified >= r.sent;
    if (!ok) exitCode = 1;
    console.log(JSON.stringify({ ok, sent: r.sent, requests: r.requests, verified, verifyFailures,
        failures: failureDetails, checkCount: Object.keys(checks).length, checks }));
} catch (e) {
    exitCode = 1;
    log(e?.stack ?? e);
    const error = e instanceof ApiException ? `ApiException ${e.code} ${JSON.stringify(e.body)}\n${e.stack}` : String(e?.stack ?? e);
    console.log(JSON.stringify({ ok: false, error, verified, verifyFailures, failures: failureDetails, checks }));
} finally {
    await closeReceiver();
    clearTimeout(watchdog);
}
process.exitCode = exitCode;

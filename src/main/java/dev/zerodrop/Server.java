package dev.zerodrop;

import dev.zerodrop.alert.AlertEngine;
import dev.zerodrop.alert.Notifier;
import dev.zerodrop.api.AlertRoutes;
import dev.zerodrop.api.AuditRoutes;
import dev.zerodrop.api.AuthRoutes;
import dev.zerodrop.api.Authenticator;
import dev.zerodrop.api.KeyRoutes;
import dev.zerodrop.core.OneTimeSecrets;
import dev.zerodrop.api.BackgroundTaskRoutes;
import dev.zerodrop.api.ExpungeRoutes;
import dev.zerodrop.api.OperationalWebhookRoutes;
import dev.zerodrop.api.SloRoutes;
import dev.zerodrop.slo.Slo;
import dev.zerodrop.audit.Audit;
import dev.zerodrop.store.AuditStore;
import dev.zerodrop.store.ContentStore;
import dev.zerodrop.store.ReplayStore;
import dev.zerodrop.store.TaskStore;
import dev.zerodrop.task.Tasks;
import java.time.Duration;
import dev.zerodrop.api.ApiServer;
import dev.zerodrop.api.ObservabilityRoutes;
import dev.zerodrop.store.AlertStore;
import dev.zerodrop.api.Routes;
import dev.zerodrop.api.Services;
import dev.zerodrop.config.Config;
import dev.zerodrop.delivery.AddressGuard;
import dev.zerodrop.delivery.WebhookClient;
import dev.zerodrop.dispatch.DispatchListener;
import dev.zerodrop.dispatch.Dispatcher;
import dev.zerodrop.dispatch.RetryPolicy;
import dev.zerodrop.dlq.DeadLetterQueue;
import dev.zerodrop.ingest.GroupCommit;
import dev.zerodrop.metrics.Metrics;
import dev.zerodrop.store.AppStore;
import dev.zerodrop.store.AttemptStore;
import dev.zerodrop.store.Database;
import dev.zerodrop.store.DeliveryStore;
import dev.zerodrop.store.DlqStore;
import dev.zerodrop.store.EmbeddedDatabase;
import dev.zerodrop.store.EndpointStore;
import dev.zerodrop.store.EventTypeStore;
import dev.zerodrop.store.IdempotencyStore;
import dev.zerodrop.store.MessageStore;
import dev.zerodrop.store.PartitionStore;
import dev.zerodrop.store.JobStore;
import dev.zerodrop.maintenance.Jobs;
import dev.zerodrop.store.QueueStore;
import dev.zerodrop.store.TokenStore;
import dev.zerodrop.store.ServerSecretStore;
import dev.zerodrop.store.EndpointSecrets;
import dev.zerodrop.store.SealedSecrets;
import dev.zerodrop.api.SecretRoutes;
import dev.zerodrop.secret.Sealer;
import java.io.IOException;
import java.io.PrintStream;
import java.time.InstantSource;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One ZeroDrop node: database, dispatcher and API, started and stopped in the right order. */
public final class Server implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Server.class);

    /**
     * Hooks for embedding and tests. {@code metrics} null (the default) gives the server metrics of
     * its own; a given one must serve that one server only, which closes it (its registry can still
     * be read).
     */
    public record Options(InstantSource clock, DispatchListener listener, Dispatcher.SendHook sendHook, PrintStream console,
                          Metrics metrics) {
        public Options(InstantSource clock, DispatchListener listener, Dispatcher.SendHook sendHook, PrintStream console) {
            this(clock, listener, sendHook, console, null);
        }

        public static Options defaults() {
            return new Options(InstantSource.system(), DispatchListener.NONE, Dispatcher.SendHook.NONE, System.out);
        }

        public Options withMetrics(Metrics metrics) {
            return new Options(clock, listener, sendHook, console, metrics);
        }
    }

    private final EmbeddedDatabase embedded;
    private final Database db;
    private final WebhookClient client;
    private final Dispatcher dispatcher;
    private final ApiServer api;
    private final GroupCommit ingest;
    private final AlertEngine alerts;
    private final ScheduledExecutorService maintenance;
    private final Jobs jobs;
    private final String jdbcUrl;
    private final DeadLetterQueue dlq;
    private final Metrics metrics;
    private final Tasks tasks;
    private final Authenticator auth;

    private Server(EmbeddedDatabase embedded, Database db, WebhookClient client, Dispatcher dispatcher, ApiServer api,
                   GroupCommit ingest, AlertEngine alerts, ScheduledExecutorService maintenance, Jobs jobs,
                   String jdbcUrl, DeadLetterQueue dlq,
                   Metrics metrics, Tasks tasks, Authenticator auth) {
        this.auth = auth;
        this.tasks = tasks;
        this.metrics = metrics;
        this.dlq = dlq;
        this.ingest = ingest;
        this.alerts = alerts;
        this.embedded = embedded;
        this.db = db;
        this.client = client;
        this.dispatcher = dispatcher;
        this.api = api;
        this.maintenance = maintenance;
        this.jobs = jobs;
        this.jdbcUrl = jdbcUrl;
    }

    public static Server start(Config cfg) throws IOException {
        return start(cfg, Options.defaults());
    }

    public static Server start(Config cfg, Options o) throws IOException {
        EmbeddedDatabase embedded = null;
        String url;
        String user = cfg.dbUser().orElse(null);
        String password = cfg.dbPassword().orElse(null);
        if (cfg.dbUrl().isPresent()) {
            url = cfg.dbUrl().get();
        } else {
            embedded = EmbeddedDatabase.start(cfg.dataDir());
            url = embedded.jdbcUrl();
            user = embedded.user();
            password = embedded.password();
        }
        Metrics metrics = o.metrics() == null ? new Metrics() : o.metrics();
        Database db;
        try {
            db = Database.open(url, user, password, cfg.dbPoolSize(), metrics.hikari());
        } catch (RuntimeException e) {
            metrics.close();
            if (embedded != null) embedded.close();
            throw e;
        }
        var jdbc = db.jdbc();
        EndpointSecrets endpointSecrets;
        SealedSecrets sealed;
        byte[] pepper;
        try {
            Sealer sealer = Sealer.load(cfg.secretKey(), cfg.dataDir());
            ServerSecretStore serverSecrets = new ServerSecretStore(jdbc, sealer);
            // Opens the server's own secrets: a node given another key stops here, before it serves anything.
            pepper = serverSecrets.bytes("token-pepper", o.clock().instant());
            endpointSecrets = new EndpointSecrets(sealer);
            sealed = new SealedSecrets(jdbc, endpointSecrets, serverSecrets);
            // Rows stored in clear by an older version, or sealed with a key that no longer seals, before anything reads them.
            reseal(sealed);
        } catch (IOException | RuntimeException e) {
            db.close();
            metrics.close();
            if (embedded != null) embedded.close();
            throw e;
        }
        TokenStore tokens = new TokenStore(jdbc, pepper);
        OneTimeSecrets secrets = OneTimeSecrets.of(o.console(), cfg.dataDir());
        Optional<Map.Entry<String, TokenStore.Key>> adminToken = setUpAdminToken(cfg, tokens, secrets, o);

        // Every time the nodes will write must have its partition before anything is accepted.
        PartitionStore partitions = new PartitionStore(jdbc);
        Duration partitionInterval = PartitionStore.interval(cfg.historyRetention());
        Duration partitionsAhead = max(partitionInterval.multipliedBy(4), Duration.ofMinutes(10));
        partitions.ensure(o.clock().instant(), partitionInterval, partitionsAhead);
        if (cfg.historyRetention().compareTo(Duration.ofHours(1)) < 0 || cfg.payloadRetention().compareTo(Duration.ofHours(1)) < 0) {
            log.warn("history is kept for {} and payloads for {}: values this short are meant for tests and demos",
                    dev.zerodrop.config.Durations.format(cfg.historyRetention()), dev.zerodrop.config.Durations.format(cfg.payloadRetention()));
        }

        AddressGuard guard = new AddressGuard(cfg.allowPrivateCidrs());
        WebhookClient client = new WebhookClient(guard, cfg.connectTimeout(), cfg.requestTimeout(), cfg.responseCap(),
                cfg.endpointMaxInFlight(), o.clock());
        DeliveryStore deliveries = new DeliveryStore(jdbc, endpointSecrets);
        Dispatcher dispatcher = null;
        if (cfg.dispatch()) {
            dispatcher = new Dispatcher(deliveries, client, new RetryPolicy(cfg.retrySchedule(), cfg.retryAfterMax()),
                    new Dispatcher.Settings(cfg.lease(), cfg.requestTimeout(), cfg.claimBatch(), cfg.maxInFlight(), cfg.endpointMaxInFlight(),
                            cfg.pollInterval(), cfg.shutdownGrace(), cfg.svixHeaders()),
                    o.clock(), DispatchListener.all(metrics, o.listener()), o.sendHook());
            dispatcher.start();
            metrics.inFlight(dispatcher::inFlight);
        }
        Dispatcher d = dispatcher;
        IdempotencyStore idempotency = new IdempotencyStore(jdbc);
        MessageStore messages = new MessageStore(jdbc, endpointSecrets, new MessageStore.Retention(cfg.historyRetention(),
                min(cfg.payloadRetention(), cfg.historyRetention())));
        GroupCommit.Handoff handoff = d == null || !cfg.directDispatch() ? GroupCommit.Handoff.NONE : d;
        GroupCommit ingest = new GroupCommit(messages, cfg.ingestCommitters(), cfg.ingestBatch(), metrics, handoff);
        Runnable wake = d == null ? () -> {} : d::wake;
        DeadLetterQueue dlq = new DeadLetterQueue(new DlqStore(jdbc), cfg.replayRate(), cfg.dlqRetention(), wake);
        Services services = new Services(new AppStore(jdbc), new EndpointStore(jdbc, endpointSecrets), messages, deliveries,
                new AttemptStore(jdbc), new EventTypeStore(jdbc), guard, wake, o.clock(), ingest, dlq);
        Audit audit = new Audit(new AuditStore(jdbc), cfg.stuckLeaseGrace());
        AlertStore alertStore = new AlertStore(jdbc);
        Notifier notifier = Notifier.create(services.apps(), services.endpoints(), messages, services.wake(), cfg.alertWebhookUrl(),
                cfg.operationalWebhookUrl(), cfg.operationalWebhookSecret(), secrets, o.clock().instant());
        ContentStore contents = new ContentStore(jdbc);
        Tasks tasks = new Tasks(new TaskStore(jdbc), new ReplayStore(jdbc), contents, cfg.replayRate(), wake, o.clock(),
                notifier::backgroundTaskFinished).start();
        AlertEngine alerts = new AlertEngine(jdbc, alertStore, services.endpoints(), notifier, dlq.store()::valueAtRisk, o.clock(),
                cfg.autoDisableAfter()).start();
        Authenticator auth = new Authenticator(tokens, adminToken, cfg.metricsToken(),
                ref -> services.apps().findRecent(ref).map(AppStore.App::id), o.clock(), Authenticator.Limits.DEFAULT);
        ApiServer api = new ApiServer(cfg.host(), cfg.port(), cfg.httpLimits(), auth, idempotency, o.clock(), db::isReachable,
                a -> {
                    a.observe(metrics::httpRequest);
                    new ObservabilityRoutes(metrics::scrape, Metrics.CONTENT_TYPE).register(a);
                    Routes.register(a, services);
                    new KeyRoutes(tokens, auth, services.apps(), o.clock()).register(a);
                    new AuthRoutes(tokens, auth, services.apps(), cfg.publicUrl(), o.clock()).register(a);
                    new AlertRoutes(alertStore, services.apps(), o.clock()).register(a);
                    new AuditRoutes(audit, services.apps(), o.clock()).register(a);
                    new SloRoutes(new Slo(jdbc), services.apps(), services.endpoints(), o.clock()).register(a);
                    new BackgroundTaskRoutes(services, tasks).register(a);
                    new ExpungeRoutes(services, contents, tasks).register(a);
                    new OperationalWebhookRoutes(services, notifier).register(a);
                    new SecretRoutes(sealed).register(a);
                }).start();
        metrics.idempotencyWaiting(api::idempotencyWaiting);

        // This node's own work: its buffered indicator events.
        ScheduledExecutorService maintenance = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("zd-maintenance").daemon().factory());
        every(maintenance, "SLO indicator flush", Duration.ofSeconds(2), Duration.ofSeconds(2), deliveries::flushSli);
        // The cluster's periodic jobs: each one runs on one node at a time.
        Slo slo = new Slo(jdbc);
        Duration retentionPeriod = max(Duration.ofSeconds(10), min(partitionInterval.dividedBy(4), Duration.ofMinutes(15)));
        Jobs jobs = new Jobs(new JobStore(jdbc), o.clock(), nodeId())
                .add("alert evaluation", cfg.alertInterval(), () -> alerts.runOnce(o.clock().instant()))
                .add("audit counter fold", Duration.ofSeconds(10), audit.store()::fold)
                .add("secret reseal", Duration.ofHours(1), () -> reseal(sealed))
                .add("expired portal token purge", Duration.ofHours(6), () -> tokens.purgePortalTokens(o.clock().instant().minus(Duration.ofDays(30))))
                .add("audit recount", cfg.auditRecountInterval(), () -> audit.store().reconcile(o.clock().instant()))
                .add("idempotency key purge", Duration.ofMinutes(10), () -> idempotency.purge(o.clock().instant()))
                .add("dead-letter retention", Duration.ofHours(1), () -> dlq.applyRetention(o.clock().instant()))
                .add("payload retention", min(Duration.ofMinutes(1), partitionInterval), () -> contents.expirePayloads(o.clock().instant(), 1_000))
                .add("SLO roll-up", Duration.ofHours(1), () -> slo.rollUp(o.clock().instant()))
                .add("partitions and history retention", retentionPeriod, () -> {
                    partitions.ensure(o.clock().instant(), partitionInterval, partitionsAhead);
                    for (var e : partitions.expire(o.clock().instant(), cfg.historyRetention())) {
                        log.info("history retention dropped the {} partition ending {}: {} deliveries retired, {} unfinished messages kept",
                                e.attempts() ? "attempt" : "message and delivery", e.to(), e.deliveriesRetired(), e.messagesKept());
                    }
                })
                .start(min(Duration.ofSeconds(1), cfg.alertInterval()));
        // This node's own: the last-used times of the keys it verified.
        every(maintenance, "key last-used times", Duration.ofSeconds(15), Duration.ofSeconds(15), auth::flushLastUsed);
        metrics.watchQueue(new QueueStore(jdbc), o.clock());
        log.info("ZeroDrop listening on http://{}:{} ({} database)", cfg.host(), api.port(), embedded != null ? "embedded" : "external");
        return new Server(embedded, db, client, dispatcher, api, ingest, alerts, maintenance, jobs, url, dlq, metrics, tasks, auth);
    }

    /** This process in the job log: host, pid and a random part (a restarted node is a new one). */
    private static String nodeId() {
        String host;
        try {
            host = java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            host = "node";
        }
        return host + "-" + ProcessHandle.current().pid() + "-" + Long.toString(new java.security.SecureRandom().nextInt(1 << 20), 36);
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    /** Runs a background job on the maintenance thread; a failure is logged and the job runs again next time. */
    private static void every(ScheduledExecutorService executor, String name, Duration initial, Duration period, Runnable job) {
        executor.scheduleWithFixedDelay(() -> {
            try {
                job.run();
            } catch (RuntimeException e) {
                log.warn("{} failed: {}", name, e.getMessage());
            }
        }, initial.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Seals again what needs it (see {@link SealedSecrets#reseal()}), and says so when it did something or could not. */
    private static void reseal(SealedSecrets sealed) {
        SealedSecrets.Reseal r = sealed.reseal();
        if (r.rows() > 0 || r.serverSecrets() > 0) {
            log.info("sealed {} secret values of {} endpoints and {} server secrets with the current key", r.values(), r.rows(),
                    r.serverSecrets());
        }
        if (r.unopenable() > 0) {
            log.error("the secrets of {} endpoints are sealed with key {}, which this node does not have: their deliveries are not "
                    + "sent (each is an attempt with error class internal) until ZERODROP_SECRET_KEY holds that key again",
                    r.unopenable(), String.join(", ", r.missingKeyIds()));
        }
    }

    /**
     * Stores ZERODROP_ADMIN_TOKEN as the configured admin key and returns it with its key, or, when it
     * is unset and no server-wide key works, makes an admin token and shows it once.
     */
    private static Optional<Map.Entry<String, TokenStore.Key>> setUpAdminToken(Config cfg, TokenStore tokens, OneTimeSecrets secrets,
                                                                                 Options o) {
        if (cfg.adminToken().isPresent()) {
            TokenStore.Key key = tokens.ensure(TokenStore.CONFIGURED_ADMIN, cfg.adminToken().get(), o.clock().instant());
            return Optional.of(Map.entry(cfg.adminToken().get(), key));
        }
        tokens.createFirstAdminToken(o.clock().instant()).ifPresent(t -> secrets.show("the generated admin token", "admin-token", t, """

                ZeroDrop generated an admin API token. It is shown this once and stored only as a hash:

                    %s

                Use it as 'Authorization: Bearer <token>'. Set ZERODROP_ADMIN_TOKEN to choose your own.
                """));
        return Optional.empty();
    }

    public int port() {
        return api.port();
    }

    /** The JDBC URL of the database this node uses (the embedded one's includes its port). */
    public String jdbcUrl() {
        return jdbcUrl;
    }

    public Database database() {
        return db;
    }

    /** The alert engine, so that tests can evaluate at a chosen instant. */
    public AlertEngine alerts() {
        return alerts;
    }

    /** This node's metrics, as {@code GET /metrics} serves them. */
    public Metrics metrics() {
        return metrics;
    }

    /** The token verifier of this node: its counts, and its last-used times to write now (tests). */
    public Authenticator authenticator() {
        return auth;
    }

    /** Every route of the API with the access it needs. */
    public java.util.List<ApiServer.Route> routes() {
        return api.routes();
    }

    /** The dead-letter queue, whose retention job runs hourly on the maintenance thread. */
    public DeadLetterQueue deadLetterQueue() {
        return dlq;
    }

    /**
     * Stops in order: the API stops accepting, the dispatcher finishes or releases its in-flight
     * deliveries, then the database pool and the embedded PostgreSQL stop.
     */
    @Override
    public void close() {
        log.info("ZeroDrop shutting down");
        maintenance.shutdownNow();
        jobs.close();
        alerts.close();
        try {
            api.close();
        } catch (RuntimeException e) {
            log.warn("stopping the API: {}", e.getMessage());
        }
        ingest.close();
        tasks.close();
        auth.flushLastUsed();
        if (dispatcher != null) dispatcher.close();
        client.close();
        metrics.close();
        db.close();
        if (embedded != null) {
            try {
                embedded.close();
            } catch (IOException e) {
                log.warn("stopping the embedded PostgreSQL: {}", e.getMessage());
            }
        }
        log.info("ZeroDrop stopped");
    }
}

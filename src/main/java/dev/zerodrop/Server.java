package dev.zerodrop;

import dev.zerodrop.alert.AlertEngine;
import dev.zerodrop.alert.Notifier;
import dev.zerodrop.api.AlertRoutes;
import dev.zerodrop.api.AuditRoutes;
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
import dev.zerodrop.store.QueueStore;
import dev.zerodrop.store.TokenStore;
import dev.zerodrop.store.ServerSecretStore;
import dev.zerodrop.secret.Sealer;
import java.io.IOException;
import java.io.PrintStream;
import java.time.InstantSource;
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
    private final String jdbcUrl;
    private final DeadLetterQueue dlq;
    private final Metrics metrics;
    private final Tasks tasks;

    private Server(EmbeddedDatabase embedded, Database db, WebhookClient client, Dispatcher dispatcher, ApiServer api,
                   GroupCommit ingest, AlertEngine alerts, ScheduledExecutorService maintenance, String jdbcUrl, DeadLetterQueue dlq,
                   Metrics metrics, Tasks tasks) {
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
        Sealer sealer;
        try {
            sealer = Sealer.load(cfg.secretKey(), cfg.dataDir());
            // Opens the server's own secrets: a node given another key stops here, before it serves anything.
            new ServerSecretStore(jdbc, sealer).bytes("token-pepper", o.clock().instant());
        } catch (IOException | RuntimeException e) {
            db.close();
            metrics.close();
            if (embedded != null) embedded.close();
            throw e;
        }
        TokenStore tokens = new TokenStore(jdbc);
        setUpAdminToken(cfg, tokens, o);

        AddressGuard guard = new AddressGuard(cfg.allowPrivateCidrs());
        WebhookClient client = new WebhookClient(guard, cfg.connectTimeout(), cfg.requestTimeout(), cfg.responseCap(),
                cfg.endpointMaxInFlight(), o.clock());
        DeliveryStore deliveries = new DeliveryStore(jdbc);
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
        MessageStore messages = new MessageStore(jdbc);
        GroupCommit.Handoff handoff = d == null || !cfg.directDispatch() ? GroupCommit.Handoff.NONE : d;
        GroupCommit ingest = new GroupCommit(messages, cfg.ingestCommitters(), cfg.ingestBatch(), metrics, handoff);
        Runnable wake = d == null ? () -> {} : d::wake;
        DeadLetterQueue dlq = new DeadLetterQueue(new DlqStore(jdbc), cfg.replayRate(), cfg.dlqRetention(), wake);
        Services services = new Services(new AppStore(jdbc), new EndpointStore(jdbc), messages, deliveries,
                new AttemptStore(jdbc), new EventTypeStore(jdbc), guard, wake, o.clock(), ingest, dlq);
        Audit audit = new Audit(new AuditStore(jdbc), cfg.stuckLeaseGrace());
        AlertStore alertStore = new AlertStore(jdbc);
        Notifier notifier = Notifier.create(services.apps(), services.endpoints(), messages, services.wake(), cfg.alertWebhookUrl(),
                cfg.operationalWebhookUrl(), cfg.operationalWebhookSecret(), o.console(), o.clock().instant());
        ContentStore contents = new ContentStore(jdbc);
        Tasks tasks = new Tasks(new TaskStore(jdbc), new ReplayStore(jdbc), contents, cfg.replayRate(), wake, o.clock(),
                notifier::backgroundTaskFinished).start();
        AlertEngine alerts = new AlertEngine(jdbc, alertStore, services.endpoints(), notifier, dlq.store()::valueAtRisk, o.clock(),
                cfg.autoDisableAfter()).start(cfg.alertInterval());
        ApiServer api = new ApiServer(cfg.host(), cfg.port(), cfg.httpLimits(), tokens, idempotency, o.clock(), db::isReachable,
                a -> {
                    a.observe(metrics::httpRequest);
                    new ObservabilityRoutes(metrics::scrape, Metrics.CONTENT_TYPE).register(a);
                    Routes.register(a, services);
                    new AlertRoutes(alertStore, services.apps(), o.clock()).register(a);
                    new AuditRoutes(audit, services.apps(), o.clock()).register(a);
                    new SloRoutes(new Slo(jdbc), services.apps(), services.endpoints(), o.clock()).register(a);
                    new BackgroundTaskRoutes(services, tasks).register(a);
                    new ExpungeRoutes(services, contents, tasks).register(a);
                    new OperationalWebhookRoutes(services, notifier).register(a);
                }).start();
        metrics.idempotencyWaiting(api::idempotencyWaiting);

        ScheduledExecutorService maintenance = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("zd-maintenance").daemon().factory());
        every(maintenance, "idempotency key purge", Duration.ofMinutes(1), Duration.ofMinutes(10), () -> idempotency.purge(o.clock().instant()));
        every(maintenance, "dead-letter retention", Duration.ofMinutes(2), Duration.ofHours(1), () -> dlq.applyRetention(o.clock().instant()));
        every(maintenance, "SLO indicator flush", Duration.ofSeconds(2), Duration.ofSeconds(2), deliveries::flushSli);
        every(maintenance, "audit counter fold", Duration.ofSeconds(10), Duration.ofSeconds(10), audit.store()::fold);
        every(maintenance, "audit recount", Duration.ofMinutes(1), cfg.auditRecountInterval(), () -> audit.store().reconcile(o.clock().instant()));
        metrics.watchQueue(new QueueStore(jdbc), o.clock());
        log.info("ZeroDrop listening on http://{}:{} ({} database)", cfg.host(), api.port(), embedded != null ? "embedded" : "external");
        return new Server(embedded, db, client, dispatcher, api, ingest, alerts, maintenance, url, dlq, metrics, tasks);
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

    private static void setUpAdminToken(Config cfg, TokenStore tokens, Options o) {
        if (cfg.adminToken().isPresent()) {
            tokens.ensure("admin (ZERODROP_ADMIN_TOKEN)", cfg.adminToken().get(), o.clock().instant());
            return;
        }
        Optional<String> created = tokens.createFirstAdminToken(o.clock().instant());
        created.ifPresent(t -> {
            o.console().println("""

                    ZeroDrop generated an admin API token. It is shown this once and stored only as a hash:

                        %s

                    Use it as 'Authorization: Bearer <token>'. Set ZERODROP_ADMIN_TOKEN to choose your own.
                    """.formatted(t));
            o.console().flush();
        });
    }

    public int port() {
        return api.port();
    }

    /** Every HTTP route of this node's API. */
    public java.util.List<ApiServer.Route> routes() {
        return api.routes();
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
        alerts.close();
        try {
            api.close();
        } catch (RuntimeException e) {
            log.warn("stopping the API: {}", e.getMessage());
        }
        ingest.close();
        tasks.close();
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

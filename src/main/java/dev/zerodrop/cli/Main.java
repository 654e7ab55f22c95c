package dev.zerodrop.cli;

import dev.zerodrop.Server;
import dev.zerodrop.config.Config;
import dev.zerodrop.config.ConfigException;
import dev.zerodrop.config.Knob;
import dev.zerodrop.store.EmbeddedDatabase;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** The {@code zerodrop} command line. */
@Command(name = "zerodrop", mixinStandardHelpOptions = true, version = "ZeroDrop 0.1.0",
        description = "Durable, race-free webhook delivery with a Svix-compatible API.",
        footer = {"", "Every server flag has an environment twin: --request-timeout is ZERODROP_REQUEST_TIMEOUT.",
                "From a source checkout, './zerodrop test' runs the test suite."})
public final class Main implements Runnable {

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.addSubcommand("serve", serveCommand());
        cl.addSubcommand("chaos", new ChaosCommand());
        cl.addSubcommand("bench", new BenchCommand());
        cl.addSubcommand("dlq", new DlqCommand());
        cl.addSubcommand("audit", new AuditCommand());
        cl.addSubcommand("slo", new SloCommand());
        cl.addSubcommand("secrets", new SecretsCommand());
        cl.addSubcommand("keys", new KeysCommand());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        return cl;
    }

    /** {@code serve}: one option per {@link Knob}, built from the knob table so the two cannot drift apart. */
    static CommandLine serveCommand() {
        Map<Knob, OptionSpec> options = new EnumMap<>(Knob.class);
        Callable<Integer> serve = () -> {
            Map<Knob, String> explicit = new EnumMap<>(Knob.class);
            options.forEach((k, o) -> {
                if (o.getValue() != null) explicit.put(k, o.getValue());
            });
            return serve(explicit);
        };
        CommandSpec spec = CommandSpec.wrapWithoutInspection(serve);
        spec.name("serve").mixinStandardHelpOptions(true);
        spec.usageMessage().description("Start the server: API, dispatcher and background jobs.",
                "With no database configured, an embedded PostgreSQL is started in the data directory.");
        for (Knob k : Knob.values()) {
            String dflt = k.defaultValue().isEmpty() ? "unset" : k.defaultValue();
            OptionSpec o = OptionSpec.builder(k.flag()).paramLabel("<value>").type(String.class)
                    .description(k.description().replace("%", "%%"), "Env: " + k.env() + ". Default: " + dflt + ".").build();
            options.put(k, o);
            spec.addOption(o);
        }
        return new CommandLine(spec);
    }

    static int serve(Map<Knob, String> explicit) {
        Config cfg;
        try {
            cfg = Config.from(explicit);
        } catch (ConfigException e) {
            System.err.println("zerodrop: invalid configuration: " + e.getMessage());
            return 2;
        }
        Logging.apply(cfg.logFormat());
        Server server;
        try {
            server = Server.start(cfg);
        } catch (EmbeddedDatabase.InUseException e) {
            System.err.println("zerodrop: " + e.getMessage());
            return 3;
        } catch (Exception e) {
            System.err.println("zerodrop: could not start: " + e.getMessage());
            org.slf4j.LoggerFactory.getLogger(Main.class).debug("start failure", e);
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "zd-shutdown"));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }
}

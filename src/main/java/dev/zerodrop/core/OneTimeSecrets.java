package dev.zerodrop.core;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Shows a secret the server made and keeps only as a hash or sealed (a generated admin token, a
 * generated signing secret) once, and never through the logger: on the console. When the console
 * is the process's standard output and that is not a terminal (a service manager, a container log,
 * a redirect), whatever reads it may keep it in a log file; the secret is then written to a file of
 * mode {@code 0600} in the data directory instead, and only that file's path is logged.
 */
public final class OneTimeSecrets {
    private static final Logger log = LoggerFactory.getLogger(OneTimeSecrets.class);

    private final PrintStream console;
    private final Path fileDir;

    /** {@code fileDir}: where the secrets go instead of the console, or null to always use the console. */
    OneTimeSecrets(PrintStream console, Path fileDir) {
        this.console = console;
        this.fileDir = fileDir;
    }

    /**
     * For {@code console}: files in {@code dataDir} when the console is standard output, standard
     * output is not a terminal and the data directory exists; else the console itself (an embedder's
     * or a test's own stream is used as given).
     */
    public static OneTimeSecrets of(PrintStream console, Path dataDir) {
        // Since Java 22 System.console() may be there with its streams redirected; isTerminal() tells.
        java.io.Console terminal = System.console();
        boolean unwatched = console == System.out && (terminal == null || !terminal.isTerminal());
        return new OneTimeSecrets(console, unwatched && dataDir != null && Files.isDirectory(dataDir) ? dataDir : null);
    }

    /**
     * Shows {@code secret}: {@code message} (a text with one {@code %s} for the secret) on the
     * console, or the secret alone in {@code <data dir>/<fileName>}. {@code what} names it in the log.
     */
    public void show(String what, String fileName, String secret, String message) {
        if (fileDir != null) {
            Path file = fileDir.resolve(fileName);
            try {
                PrivateFiles.writeSecret(file, secret + System.lineSeparator());
                log.warn("{} was written to {} (mode 0600), not to standard output, which is not a terminal; read it there, then delete the file",
                        what, file.toAbsolutePath());
                return;
            } catch (IOException e) {
                log.warn("could not write {} to {} ({}); it goes to standard output", what, file.toAbsolutePath(), e.getMessage());
            }
        }
        console.println(message.formatted(secret));
        console.flush();
    }
}

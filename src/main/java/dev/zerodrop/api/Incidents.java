package dev.zerodrop.api;

import java.security.SecureRandom;
import java.util.HexFormat;

/** Ids that tie a failed request's answer to its one log line. */
final class Incidents {
    private static final SecureRandom RANDOM = new SecureRandom();

    private Incidents() {}

    /** A fresh id: {@code inc_} and 16 hex digits. */
    static String next() {
        byte[] b = new byte[8];
        RANDOM.nextBytes(b);
        return "inc_" + HexFormat.of().formatHex(b);
    }

    /**
     * The failure's class, its root cause's class, and where it was thrown in ZeroDrop's own code
     * ({@code Class.method:line}), else its first frame. Never a message: messages quote values.
     */
    static String summary(Throwable e) {
        Throwable root = e;
        for (int i = 0; i < 20 && root.getCause() != null && root.getCause() != root; i++) root = root.getCause();
        StringBuilder b = new StringBuilder(e.getClass().getName());
        if (root != e) b.append(" caused by ").append(root.getClass().getName());
        // The first frame of ours outside the JDBC helper, which every query passes through.
        StackTraceElement[] frames = e.getStackTrace();
        StackTraceElement at = frames.length == 0 ? null : frames[0];
        for (StackTraceElement f : frames) {
            if (f.getClassName().startsWith("dev.zerodrop.") && !f.getClassName().equals("dev.zerodrop.store.Jdbc")) {
                at = f;
                break;
            }
        }
        return at == null ? b.toString() : b.append(" at ").append(frame(at)).toString();
    }

    private static String frame(StackTraceElement f) {
        String cls = f.getClassName();
        return cls.substring(cls.lastIndexOf('.') + 1) + "." + f.getMethodName() + ":" + f.getLineNumber();
    }
}

package dev.zerodrop.config;

import java.util.Locale;

/** The format of log lines: {@code text} for people, {@code json} (one object per line) for log pipelines. */
public enum LogFormat {
    TEXT,
    JSON;

    static LogFormat parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "text" -> TEXT;
            case "json" -> JSON;
            default -> throw new IllegalArgumentException("'" + s + "' is not text or json");
        };
    }
}

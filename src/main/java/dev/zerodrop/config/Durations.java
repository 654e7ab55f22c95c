package dev.zerodrop.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses durations such as {@code 500ms}, {@code 5s}, {@code 5m}, {@code 2h}, {@code 1d}; a bare number means seconds. */
public final class Durations {
    private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h|d)?");

    private Durations() {}

    public static Duration parse(String text) {
        if (text == null) throw new IllegalArgumentException("is empty");
        Matcher m = DURATION.matcher(text.trim().toLowerCase());
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a duration (use e.g. 500ms, 5s, 5m, 2h)");
        }
        double value = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        double millis = switch (unit) {
            case "ms" -> value;
            case "s" -> value * 1_000;
            case "m" -> value * 60_000;
            case "h" -> value * 3_600_000;
            case "d" -> value * 86_400_000;
            default -> throw new IllegalArgumentException("unknown unit " + unit);
        };
        if (millis > Long.MAX_VALUE / 2) throw new IllegalArgumentException("'" + text + "' is too long");
        return Duration.ofMillis(Math.round(millis));
    }

    public static List<Duration> parseList(String text) {
        if (text == null || text.isBlank()) throw new IllegalArgumentException("is empty");
        List<Duration> out = new ArrayList<>();
        for (String part : text.split(",")) {
            if (part.isBlank()) throw new IllegalArgumentException("has an empty entry in '" + text + "'");
            out.add(parse(part));
        }
        return List.copyOf(out);
    }

    /** Formats a duration the way it is written in configuration: {@code 1500ms}, {@code 5s}, {@code 5m}, {@code 2h}. */
    public static String format(Duration d) {
        long ms = d.toMillis();
        if (ms % 3_600_000 == 0 && ms > 0) return ms / 3_600_000 + "h";
        if (ms % 60_000 == 0 && ms > 0) return ms / 60_000 + "m";
        if (ms % 1_000 == 0) return ms / 1_000 + "s";
        return ms + "ms";
    }
}

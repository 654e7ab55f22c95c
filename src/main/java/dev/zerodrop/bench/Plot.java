package dev.zerodrop.bench;

import java.util.List;
import java.util.Locale;

/** A small SVG chart of benchmark results: delivered rate per scenario, and latency percentiles. */
final class Plot {
    private Plot() {}

    static String svg(List<Bench.Result> results, double combinedCeiling) {
        int w = 900;
        int h = 420;
        int left = 70;
        int top = 40;
        int chartH = 300;
        int panelW = 380;
        StringBuilder sb = open(w, h);
        // Panel 1: delivered per second.
        double maxRate = Math.max(combinedCeiling > 0 ? combinedCeiling : 0, results.stream().mapToDouble(r -> Math.max(r.deliveredPerSec(), r.ingestPerSec())).max().orElse(1));
        maxRate = niceCeil(maxRate);
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"20\" font-weight=\"bold\">Throughput (per second)</text>%n", left));
        axis(sb, left, top, panelW, chartH, maxRate, "%.0f");
        int n = results.size();
        double slot = (double) panelW / Math.max(1, n);
        for (int i = 0; i < n; i++) {
            Bench.Result r = results.get(i);
            double x = left + i * slot + slot * 0.1;
            double bw = slot * 0.38;
            bar(sb, x, top, chartH, r.ingestPerSec() / maxRate, bw, "#9ecae1");
            bar(sb, x + bw, top, chartH, r.deliveredPerSec() / maxRate, bw, "#3182bd");
            label(sb, left + i * slot + slot / 2, top + chartH + 15, r.scenario());
        }
        if (combinedCeiling > 0) {
            double y = top + chartH - chartH * combinedCeiling / maxRate;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e6550d\" stroke-dasharray=\"4 3\"/>%n", left, left + panelW, y, y));
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" fill=\"#e6550d\">combined ceiling %.0f/s</text>%n", left + 4, y - 4, combinedCeiling));
        }
        legend(sb, left, top + chartH + 35, new String[] {"ingested", "delivered"}, new String[] {"#9ecae1", "#3182bd"});
        // Panel 2: latency percentiles.
        int left2 = left + panelW + 90;
        double maxLat = niceCeil(results.stream().mapToDouble(r -> Double.isNaN(r.p999()) ? 0 : r.p999()).max().orElse(1));
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"20\" font-weight=\"bold\">Accept to delivered (ms)</text>%n", left2));
        axis(sb, left2, top, panelW, chartH, maxLat, "%.0f");
        String[] colors = {"#a1d99b", "#41ab5d", "#006d2c"};
        for (int i = 0; i < n; i++) {
            Bench.Result r = results.get(i);
            double[] v = {r.p50(), r.p99(), r.p999()};
            double bw = slot * 0.26;
            for (int k = 0; k < 3; k++) {
                double x = left2 + i * slot + slot * 0.1 + k * bw;
                bar(sb, x, top, chartH, Double.isNaN(v[k]) ? 0 : v[k] / maxLat, bw, colors[k]);
            }
            label(sb, left2 + i * slot + slot / 2, top + chartH + 15, r.scenario());
        }
        legend(sb, left2, top + chartH + 35, new String[] {"p50", "p99", "p99.9"}, colors);
        sb.append("</svg>\n");
        return sb.toString();
    }

    /** Three panels over the run's time: database size, rates, and p99 latency; the retention marked. */
    static String timeline(List<Bench.Sample> samples, java.time.Duration retention) {
        int w = 960;
        int h = 360;
        int top = 40;
        int chartH = 240;
        int panelW = 250;
        StringBuilder sb = open(w, h);
        double maxT = samples.isEmpty() ? 1 : samples.getLast().seconds();
        String[] titles = {"Database size (MiB)", "Per second", "Accept to delivered p99 (ms)"};
        for (int p = 0; p < 3; p++) {
            int left = 60 + p * (panelW + 70);
            final int panel = p;
            double max = niceCeil(samples.stream().mapToDouble(x -> switch (panel) {
                case 0 -> x.dbMiB();
                case 1 -> Math.max(x.ingestPerSec(), x.deliveredPerSec());
                default -> Double.isNaN(x.p99()) ? 0 : x.p99();
            }).max().orElse(1));
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"20\" font-weight=\"bold\">%s</text>%n", left, titles[p]));
            axis(sb, left, top, panelW, chartH, max, "%.0f");
            double rx = left + panelW * Math.min(1, retention.toSeconds() / maxT);
            sb.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#e6550d\" stroke-dasharray=\"4 3\"/>%n",
                    rx, rx, top, top + chartH));
            label(sb, left + panelW / 2.0, top + chartH + 18, String.format(Locale.ROOT, "seconds (0 to %.0f); dashed: one retention", maxT));
            if (p == 1) {
                line(sb, samples, left, top, panelW, chartH, maxT, max, Bench.Sample::ingestPerSec, "#9ecae1");
                line(sb, samples, left, top, panelW, chartH, maxT, max, Bench.Sample::deliveredPerSec, "#3182bd");
                legend(sb, left, top + chartH + 35, new String[] {"ingested", "delivered"}, new String[] {"#9ecae1", "#3182bd"});
            } else {
                line(sb, samples, left, top, panelW, chartH, maxT, max, p == 0 ? Bench.Sample::dbMiB : Bench.Sample::p99, p == 0 ? "#756bb1" : "#41ab5d");
            }
        }
        sb.append("</svg>\n");
        return sb.toString();
    }

    /** An SVG document of w by h on a white ground, to append to. */
    private static StringBuilder open(int w, int h) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">%n", w, h));
        sb.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        return sb;
    }

    private static void line(StringBuilder sb, List<Bench.Sample> samples, int left, int top, int w, int h, double maxX, double maxY,
                             java.util.function.ToDoubleFunction<Bench.Sample> y, String color) {
        StringBuilder pts = new StringBuilder();
        for (Bench.Sample smp : samples) {
            double v = y.applyAsDouble(smp);
            if (Double.isNaN(v)) continue;
            pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", left + w * smp.seconds() / maxX, top + h - h * Math.min(1, v / maxY)));
        }
        sb.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>%n", color, pts.toString().strip()));
    }

    private static void axis(StringBuilder sb, int x, int y, int w, int h, double max, String fmt) {
        sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"black\"/>%n", x, x + w, y + h, y + h));
        sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"black\"/>%n", x, x, y, y + h));
        for (int i = 0; i <= 4; i++) {
            double v = max * i / 4;
            double yy = y + h - h * i / 4.0;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>%n", x, x + w, yy, yy));
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">" + fmt + "</text>%n", x - 5, yy + 4, v));
        }
    }

    private static void bar(StringBuilder sb, double x, int top, int h, double frac, double w, String color) {
        double bh = Math.max(0, Math.min(1, frac)) * h;
        sb.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>%n", x, top + h - bh, w, bh, color));
    }

    private static void label(StringBuilder sb, double x, double y, String text) {
        sb.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>%n", x, y, text));
    }

    private static void legend(StringBuilder sb, int x, int y, String[] names, String[] colors) {
        for (int i = 0; i < names.length; i++) {
            sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>%n", x + i * 90, y, colors[i]));
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text>%n", x + i * 90 + 14, y + 9, names[i]));
        }
    }

    private static double niceCeil(double v) {
        if (v <= 0) return 1;
        double mag = Math.pow(10, Math.floor(Math.log10(v)));
        for (double m : new double[] {1, 2, 2.5, 5, 10}) if (v <= m * mag) return m * mag;
        return 10 * mag;
    }
}

package dev.zerodrop.api;

import dev.zerodrop.delivery.AddressGuard;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.Locale;

/**
 * Checks an endpoint URL when it is saved: http(s), a host, and no private-network literal. Host
 * names are not resolved here; the delivery client checks every resolved address when it connects.
 */
final class UrlRules {
    private UrlRules() {}

    /** Returns the problem with {@code url}, or null when it is acceptable. */
    static String problem(String url, AddressGuard guard) {
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            return "is not a valid URL: " + e.getReason();
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) return "must be an http or https URL";
        String host = uri.getHost();
        if (host == null || host.isEmpty()) return "must have a host";
        if (uri.getUserInfo() != null) return "must not contain credentials; use endpoint headers instead";
        String h = host.toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) h = h.substring(1, h.length() - 1);
        InetAddress literal = null;
        if (h.equals("localhost") || h.endsWith(".localhost")) {
            literal = InetAddress.getLoopbackAddress();
        } else if (h.matches("[0-9.]+") || h.contains(":")) {
            try {
                literal = InetAddress.getByName(h); // a literal: no DNS lookup happens
            } catch (UnknownHostException e) {
                return "has an invalid IP address";
            }
        }
        if (literal != null && !guard.permits(literal)) {
            return "points to a private, loopback or reserved address, which delivery refuses (allow it with ZERODROP_ALLOW_PRIVATE_CIDRS)";
        }
        return null;
    }
}

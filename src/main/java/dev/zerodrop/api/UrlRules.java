package dev.zerodrop.api;

import dev.zerodrop.delivery.AddressGuard;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;

/**
 * Checks an endpoint URL when it is saved: http(s), a host that reads one way only, a port that
 * exists, no credentials, and no private-network literal. Host names are never resolved here (no
 * DNS on the API thread); the delivery client checks every resolved address when it connects.
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
        if (uri.getRawUserInfo() != null) return "must not contain credentials; use endpoint headers instead";
        String host = uri.getHost();
        if (host == null || host.isEmpty()) {
            // java.net.URI leaves the host out of an authority it cannot read as host[:port] (a numeric
            // host in a non-canonical form, a port out of range): read it ourselves to say why.
            String authority = uri.getRawAuthority();
            if (authority == null || authority.isEmpty()) return "must have a host";
            String h = authority;
            String port = null;
            int colon = authority.lastIndexOf(':');
            if (colon > authority.lastIndexOf(']')) {
                h = authority.substring(0, colon);
                port = authority.substring(colon + 1);
            }
            var problem = guard.problem(h);
            if (problem.isPresent()) return problem.get();
            if (port != null && !validPort(port)) return "has a port outside 1-65535";
            return "must have a host";
        }
        if (uri.getPort() != -1 && !validPort(Integer.toString(uri.getPort()))) return "has a port outside 1-65535";
        return guard.problem(host).orElse(null);
    }

    private static boolean validPort(String port) {
        return port.matches("[0-9]{1,5}") && Integer.parseInt(port) >= 1 && Integer.parseInt(port) <= 65535;
    }
}

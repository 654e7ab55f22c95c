package dev.zerodrop.delivery;

import dev.zerodrop.config.Cidr;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Decides whether delivery may connect to an address. Private, loopback, link-local, metadata and
 * other non-public ranges are refused unless an operator allow-listed them; cloud metadata and
 * wire-server addresses are refused even then. It is applied to every address that a host name
 * resolves to, right before connecting, so DNS rebinding cannot get past it.
 *
 * <p>It also reads host names the one way that leaves no doubt. A numeric host that is not a
 * canonical dotted quad ({@code 0177.0.0.1}, {@code 0x7f.1}, {@code 2130706433}, {@code 127.1}) is
 * refused: {@code inet_aton} reads {@code 0177} as octal (loopback) where Java reads it as decimal
 * (public), so whatever it means to one parser it means something else to another. All of this is
 * pure: nothing here resolves a name or opens a connection.
 */
public final class AddressGuard {
    private static final List<Cidr> BLOCKED = cidrs(
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
            "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
            "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
            "::/128", "::1/128", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
            "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8");
    /**
     * Cloud metadata and wire-server addresses: refused even when an allow-list covers them. Most sit
     * in ranges blocked anyway; Azure's wire server is a public address.
     */
    private static final List<Cidr> METADATA = cidrs(
            "169.254.169.254/32",  // AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle instance metadata
            "169.254.170.2/32",    // AWS ECS task metadata
            "169.254.169.123/32",  // AWS time sync
            "168.63.129.16/32",    // Azure wire server
            "100.100.100.200/32",  // Alibaba Cloud metadata
            "192.0.0.192/32",      // Oracle Cloud metadata
            "fd00:ec2::254/128",   // AWS metadata over IPv6
            "fd20:ce::254/128");   // GCP metadata over IPv6

    private final List<Cidr> allowed;

    public AddressGuard(List<Cidr> allowed) {
        this.allowed = List.copyOf(allowed);
    }

    private static List<Cidr> cidrs(String... text) {
        return java.util.Arrays.stream(text).map(Cidr::parse).toList();
    }

    /** True when delivery may connect to {@code address}. */
    public boolean permits(InetAddress address) {
        for (Cidr c : METADATA) if (c.contains(address)) return false;
        InetAddress a = unwrap(address);
        for (Cidr c : METADATA) if (c.contains(a)) return false;
        for (Cidr c : allowed) if (c.contains(a)) return true;
        if (a != address) return false; // an IPv4-mapped or -compatible IPv6 address outside the allow-list
        if (a.isAnyLocalAddress() || a.isLoopbackAddress() || a.isLinkLocalAddress() || a.isSiteLocalAddress()
                || a.isMulticastAddress()) {
            return false;
        }
        for (Cidr c : BLOCKED) if (c.contains(a)) return false;
        return true;
    }

    /** A host as delivery reads it: a literal address, a name to resolve, or refused outright. */
    public sealed interface Host {
        /** An IP address written in the URL. */
        record Literal(InetAddress address) implements Host {}

        /** A name (lower case, without a trailing dot) to resolve when connecting. */
        record Name(String name) implements Host {}

        /** A host that cannot be read one way only; {@code problem} says why. */
        record Refused(String problem) implements Host {}
    }

    /**
     * Reads {@code host} (as in a URL, IPv6 in brackets or not) without resolving anything: a
     * canonical IPv4 dotted quad or an IPv6 literal, a name, or refused. {@code localhost} and its
     * subdomains, with or without a trailing dot, read as the loopback address.
     */
    public static Host read(String host) {
        if (host == null || host.isEmpty()) return new Host.Refused("has no host");
        String h = host.toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) h = h.substring(1, h.length() - 1);
        if (h.indexOf(':') >= 0) return ipv6(h);
        String name = h.endsWith(".") ? h.substring(0, h.length() - 1) : h;
        if (name.isEmpty() || name.contains("..")) return new Host.Refused("is not a valid host name");
        String last = name.substring(name.lastIndexOf('.') + 1);
        if (last.matches("[0-9]+|0x[0-9a-f]*")) {
            // A numeric last label makes it an IPv4 literal to some parser: only the canonical form is unambiguous.
            if (!h.equals(name) || !canonicalIpv4(name)) {
                return new Host.Refused("is an IPv4 address in a form that parsers read differently (octal, hex, "
                        + "fewer than four parts or a trailing dot); write it as four decimal numbers such as 192.0.2.10");
            }
            return new Host.Literal(bytes(name));
        }
        if (name.equals("localhost") || name.endsWith(".localhost")) return new Host.Literal(InetAddress.getLoopbackAddress());
        if (!name.matches("[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")) {
            return new Host.Refused("is not a valid host name");
        }
        return new Host.Name(name);
    }

    /** The problem delivery has with {@code host} before it resolves it, or empty. */
    public Optional<String> problem(String host) {
        return switch (read(host)) {
            case Host.Refused r -> Optional.of(r.problem());
            case Host.Literal l when !permits(l.address()) -> Optional.of(
                    "points to a private, loopback, metadata or reserved address, which delivery refuses (allow it with ZERODROP_ALLOW_PRIVATE_CIDRS)");
            default -> Optional.empty();
        };
    }

    private static boolean canonicalIpv4(String s) {
        String[] parts = s.split("\\.", -1);
        if (parts.length != 4) return false;
        for (String p : parts) {
            if (!p.matches("0|[1-9][0-9]{0,2}") || Integer.parseInt(p) > 255) return false;
        }
        return true;
    }

    private static InetAddress bytes(String dottedQuad) {
        String[] parts = dottedQuad.split("\\.");
        byte[] b = new byte[4];
        for (int i = 0; i < 4; i++) b[i] = (byte) Integer.parseInt(parts[i]);
        try {
            return InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Host ipv6(String h) {
        String address = h;
        int zone = h.indexOf('%');
        if (zone >= 0) return new Host.Refused("has an IPv6 zone index, which delivery does not accept");
        if (!address.matches("[0-9a-f:.]+")) return new Host.Refused("has an invalid IPv6 address");
        try {
            // Only hex digits, colons and dots: Java reads this as a literal and never asks DNS.
            InetAddress a = InetAddress.getByName(address);
            // Java turns ::ffff:a.b.c.d into the IPv4 address; keep that it was written as a mapped one.
            if (a instanceof Inet4Address) return new Host.Refused("is an IPv4-mapped IPv6 address; write the IPv4 address itself");
            return new Host.Literal(a);
        } catch (UnknownHostException e) {
            return new Host.Refused("has an invalid IPv6 address");
        }
    }

    /** IPv4-mapped and IPv4-compatible IPv6 addresses are judged as the IPv4 address they carry. */
    static InetAddress unwrap(InetAddress address) {
        if (address instanceof Inet6Address v6) {
            byte[] b = v6.getAddress();
            boolean zeros = true;
            for (int i = 0; i < 10; i++) zeros &= b[i] == 0;
            boolean mapped = zeros && (b[10] & 0xFF) == 0xFF && (b[11] & 0xFF) == 0xFF;
            boolean compatible = zeros && b[10] == 0 && b[11] == 0 && !(b[12] == 0 && b[13] == 0 && b[14] == 0 && (b[15] == 0 || b[15] == 1));
            if (mapped || compatible) {
                try {
                    return Inet4Address.getByAddress(new byte[] {b[12], b[13], b[14], b[15]});
                } catch (UnknownHostException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return address;
    }
}

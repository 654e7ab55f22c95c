package dev.zerodrop.config;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/** An IPv4 or IPv6 network in CIDR notation. */
public record Cidr(byte[] network, int prefix, String text) {

    public static Cidr parse(String text) {
        String t = text.trim();
        int slash = t.indexOf('/');
        String addr = slash < 0 ? t : t.substring(0, slash);
        byte[] bytes = literal(addr);
        if (bytes == null) throw new IllegalArgumentException("'" + t + "' is not a CIDR");
        int max = bytes.length * 8;
        int prefix;
        try {
            prefix = slash < 0 ? max : Integer.parseInt(t.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + t + "' has a bad prefix length");
        }
        if (prefix < 0 || prefix > max) throw new IllegalArgumentException("'" + t + "' has a bad prefix length");
        return new Cidr(mask(bytes, prefix), prefix, t);
    }

    /**
     * The bytes of a canonical IPv4 dotted quad (4) or an IPv6 literal (16, also for the IPv4-mapped
     * ones Java would turn into IPv4), or null. Never asks DNS.
     */
    static byte[] literal(String addr) {
        if (addr.indexOf(':') < 0) {
            String[] parts = addr.split("\\.", -1);
            if (parts.length != 4) return null;
            byte[] b = new byte[4];
            for (int i = 0; i < 4; i++) {
                if (!parts[i].matches("0|[1-9][0-9]{0,2}") || Integer.parseInt(parts[i]) > 255) return null;
                b[i] = (byte) Integer.parseInt(parts[i]);
            }
            return b;
        }
        if (!addr.matches("[0-9a-fA-F:.]+")) return null;
        try {
            byte[] b = InetAddress.getByName(addr).getAddress(); // with a colon, always read as a literal
            if (b.length == 16) return b;
            byte[] mapped = new byte[16];
            mapped[10] = (byte) 0xFF;
            mapped[11] = (byte) 0xFF;
            System.arraycopy(b, 0, mapped, 12, 4);
            return mapped;
        } catch (UnknownHostException e) {
            return null;
        }
    }

    public static List<Cidr> parseList(String text) {
        List<Cidr> out = new ArrayList<>();
        if (text == null || text.isBlank()) return List.of();
        for (String part : text.split(",")) {
            if (!part.isBlank()) out.add(parse(part));
        }
        return List.copyOf(out);
    }

    public boolean contains(InetAddress address) {
        byte[] a = address.getAddress();
        if (a.length != network.length) return false;
        byte[] masked = mask(a, prefix);
        return java.util.Arrays.equals(masked, network);
    }

    private static byte[] mask(byte[] bytes, int prefix) {
        byte[] out = bytes.clone();
        for (int i = 0; i < out.length; i++) {
            int bits = Math.max(0, Math.min(8, prefix - i * 8));
            out[i] = (byte) (out[i] & (0xFF << (8 - bits)));
        }
        return out;
    }

    @Override
    public String toString() {
        return text;
    }
}

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
        if (!addr.matches("[0-9a-fA-F:.]+")) throw new IllegalArgumentException("'" + t + "' is not a CIDR");
        byte[] bytes;
        try {
            bytes = InetAddress.getByName(addr).getAddress(); // literal only: the regex rules out host names
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("'" + t + "' is not a CIDR");
        }
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

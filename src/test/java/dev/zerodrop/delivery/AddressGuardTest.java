package dev.zerodrop.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zerodrop.config.Cidr;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The guard is a pure function of an address or a host name: nothing is resolved, no connection is made. */
class AddressGuardTest {
    private final AddressGuard strict = new AddressGuard(List.of());

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
            "169.254.169.254", "169.254.0.1", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "198.18.0.1",
            "100.100.100.200", "168.63.129.16", "192.0.0.192",
            "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "fd20:ce::254", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
            "::ffff:169.254.169.254", "::ffff:0:808:808", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "ff02::1"})
    void refusesPrivateLoopbackLinkLocalMappedAndMetadataAddresses(String address) throws Exception {
        assertThat(strict.permits(literal(address))).as(address).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"93.184.216.34", "8.8.8.8", "1.1.1.1", "172.32.0.1", "168.63.129.17", "2606:4700:4700::1111"})
    void permitsPublicAddresses(String address) throws Exception {
        assertThat(strict.permits(literal(address))).as(address).isTrue();
    }

    /** An IPv6 socket address carrying an IPv4 one (::ffff:0:0/96) is refused, even for a public IPv4 address. */
    @ParameterizedTest
    @ValueSource(strings = {"8.8.8.8", "127.0.0.1", "93.184.216.34"})
    void ipv4MappedIpv6AddressesAreRefused(String v4) throws Exception {
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xFF;
        mapped[11] = (byte) 0xFF;
        System.arraycopy(literal(v4).getAddress(), 0, mapped, 12, 4);
        InetAddress a = java.net.Inet6Address.getByAddress(null, mapped, -1);
        assertThat(a).isInstanceOf(java.net.Inet6Address.class);
        assertThat(strict.permits(a)).isFalse();
        assertThat(new AddressGuard(List.of(Cidr.parse("127.0.0.0/8"))).permits(a)).isEqualTo(v4.startsWith("127."));
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "127.0.0.2", "::ffff:127.0.0.1"})
    void anAllowListOpensOnlyItsOwnRange(String address) throws Exception {
        AddressGuard loopback = new AddressGuard(List.of(Cidr.parse("127.0.0.0/8")));
        assertThat(loopback.permits(literal(address))).isTrue();
        assertThat(loopback.permits(literal("10.0.0.1"))).isFalse();
        assertThat(loopback.permits(literal("169.254.169.254"))).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"169.254.169.254", "168.63.129.16", "fd00:ec2::254", "::ffff:169.254.169.254"})
    void metadataAddressesStayRefusedWhateverTheAllowList(String address) throws Exception {
        AddressGuard everything = new AddressGuard(List.of(Cidr.parse("0.0.0.0/0"), Cidr.parse("::/0")));
        assertThat(everything.permits(literal(address))).as(address).isFalse();
        assertThat(everything.permits(literal("10.0.0.1"))).isTrue();
    }

    /**
     * Numeric hosts that one parser reads one way and another parser another: {@code inet_aton} reads
     * 0177.0.0.1 as octal loopback, Java as the public 177.0.0.1. None may pass, whatever they mean.
     */
    @ParameterizedTest
    @ValueSource(strings = {"0177.0.0.1", "0127.0.0.1", "127.000.000.001", "0x7f.0.0.1", "0x7f000001", "2130706433", "127.1",
            "127.0.1", "10.1", "1.2.3.4.5", "127.0.0.1.", "8.8.8.8.", "256.1.1.1", "1.2.3.04", "017700000001", "0", "1e1.0.0.1.2"})
    void ambiguousIpv4FormsAreRefusedWhateverTheyMean(String host) {
        AddressGuard loopbackAllowed = new AddressGuard(List.of(Cidr.parse("127.0.0.0/8")));
        assertThat(AddressGuard.read(host)).as(host).isInstanceOf(AddressGuard.Host.Refused.class);
        assertThat(loopbackAllowed.problem(host)).as(host).isPresent();
    }

    @ParameterizedTest
    @ValueSource(strings = {"localhost", "localhost.", "LOCALHOST", "api.localhost", "api.localhost.", "[::1]", "::1", "127.0.0.1"})
    void localhostInAnySpellingIsLoopback(String host) {
        assertThat(AddressGuard.read(host)).as(host).isInstanceOf(AddressGuard.Host.Literal.class);
        assertThat(((AddressGuard.Host.Literal) AddressGuard.read(host)).address().isLoopbackAddress()).as(host).isTrue();
        assertThat(new AddressGuard(List.of()).problem(host)).as(host).isPresent();
        assertThat(new AddressGuard(List.of(Cidr.parse("127.0.0.0/8"), Cidr.parse("::1/128"))).problem(host)).as(host).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"example.com", "hooks.example.com.", "a-b.example", "xn--bcher-kva.example", "my_host.internal", "1password.com",
            "123.example.com", "8.8.8.8", "[2606:4700:4700::1111]"})
    void namesAndCanonicalPublicLiteralsPass(String host) {
        assertThat(new AddressGuard(List.of()).problem(host)).as(host).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"[::ffff:127.0.0.1]", "::ffff:8.8.8.8", "[fe80::1%eth0]", "[::g]", "exa mple.com", "-bad.example",
            "a..b", ".", "bad-.example"})
    void mappedZonedAndMalformedHostsAreRefused(String host) {
        assertThat(new AddressGuard(List.of(Cidr.parse("0.0.0.0/0"), Cidr.parse("::/0"))).problem(host)).as(host).isPresent();
    }

    /** Parses an address literal without DNS (the test's inputs are all literals). */
    private static InetAddress literal(String address) throws Exception {
        if (!address.matches("[0-9a-fA-F:.]+")) throw new IllegalArgumentException(address);
        return InetAddress.getByName(address);
    }
}

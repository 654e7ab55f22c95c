package dev.zerodrop.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zerodrop.config.Cidr;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The guard is a pure function of an address: no connection is ever made here. */
class AddressGuardTest {
    private final AddressGuard strict = new AddressGuard(List.of());

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
            "169.254.169.254", "169.254.0.1", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "198.18.0.1",
            "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "ff02::1"})
    void refusesPrivateLoopbackLinkLocalAndMetadataAddresses(String address) throws Exception {
        assertThat(strict.permits(InetAddress.getByName(address))).as(address).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"93.184.216.34", "8.8.8.8", "1.1.1.1", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"})
    void permitsPublicAddresses(String address) throws Exception {
        assertThat(strict.permits(InetAddress.getByName(address))).as(address).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "127.0.0.2", "::ffff:127.0.0.1"})
    void anAllowListOpensOnlyItsOwnRange(String address) throws Exception {
        AddressGuard loopback = new AddressGuard(List.of(Cidr.parse("127.0.0.0/8")));
        assertThat(loopback.permits(InetAddress.getByName(address))).isTrue();
        assertThat(loopback.permits(InetAddress.getByName("10.0.0.1"))).isFalse();
        assertThat(loopback.permits(InetAddress.getByName("169.254.169.254"))).isFalse();
    }
}

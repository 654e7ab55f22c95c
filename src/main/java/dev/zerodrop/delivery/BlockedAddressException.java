package dev.zerodrop.delivery;

import java.net.ConnectException;

/** Every address of a host is refused by the {@link AddressGuard}. */
public final class BlockedAddressException extends ConnectException {
    public BlockedAddressException(String host) {
        super("refused to connect to " + host + ": private, loopback, link-local or reserved address (see ZERODROP_ALLOW_PRIVATE_CIDRS)");
    }
}

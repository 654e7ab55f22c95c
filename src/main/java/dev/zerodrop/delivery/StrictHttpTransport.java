package dev.zerodrop.delivery;

import java.util.Map;
import org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP;
import org.eclipse.jetty.client.transport.internal.HttpChannelOverHTTP;
import org.eclipse.jetty.client.transport.internal.HttpConnectionOverHTTP;
import org.eclipse.jetty.client.transport.internal.HttpReceiverOverHTTP;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.io.EndPoint;

/**
 * Jetty's HTTP/1.1 transport with a receiver that says what a parse failure was. Jetty reports a
 * malformed response head as an exception whose text names its connection objects, and it reports a
 * malformed body (bad chunking) as an {@code EOFException}, indistinguishable from a receiver that
 * closed the connection. Here both become a {@link ResponseViolation}, which is classified as
 * {@code protocol} (or {@code too-large} for the header cap), never {@code reset}.
 */
final class StrictHttpTransport extends HttpClientTransportOverHTTP {
    /** Jetty's HttpParser reason when the response head passes {@code maxResponseHeadersSize}. */
    static final String HEADERS_TOO_LARGE_REASON = "Response Header Bytes Too Large";
    /** Jetty's HttpParser reason when the connection ends in the middle of a response head. */
    static final String EARLY_EOF_REASON = "Early EOF";

    StrictHttpTransport(ClientConnector connector) {
        super(connector);
    }

    @Override
    public org.eclipse.jetty.io.Connection newConnection(EndPoint endPoint, Map<String, Object> context) {
        return customize(new HttpConnectionOverHTTP(endPoint, context) {
            @Override
            protected HttpChannelOverHTTP newHttpChannel() {
                return new HttpChannelOverHTTP(this) {
                    @Override
                    protected HttpReceiverOverHTTP newHttpReceiver() {
                        return new Receiver(this);
                    }
                };
            }
        }, context);
    }

    /** A response the parser rejected, with the parser's reason and whether the head had been read. */
    static final class ResponseViolation extends Exception {
        private final String reason;
        private final boolean inBody;

        ResponseViolation(String reason, boolean inBody) {
            super(reason, null, false, false);
            this.reason = reason;
            this.inBody = inBody;
        }

        String reason() {
            return reason;
        }

        boolean inBody() {
            return inBody;
        }
    }

    private static final class Receiver extends HttpReceiverOverHTTP {
        Receiver(HttpChannelOverHTTP channel) {
            super(channel);
        }

        @Override
        public void badMessage(HttpException failure) {
            // Without an exchange the response was unsolicited: Jetty just closes the connection.
            if (getHttpExchange() == null) super.badMessage(failure);
            else failAndClose(new ResponseViolation(failure.getReason(), false));
        }

        @Override
        public void failAndClose(Throwable failure) {
            // With assertions enabled in org.eclipse.jetty.http, HttpParser's error path fails its own
            // assertion when the status line was not 4xx/5xx (it reuses that status for the exception),
            // and the parser's finding is lost. It still is a response the parser rejected.
            if (failure instanceof AssertionError && fromJettyHttp(failure)) failure = new ResponseViolation(null, false);
            super.failAndClose(failure);
        }

        private static boolean fromJettyHttp(Throwable t) {
            StackTraceElement[] trace = t.getStackTrace();
            return trace.length > 0 && trace[0].getClassName().startsWith("org.eclipse.jetty.http.");
        }

        @Override
        public void earlyEOF() {
            // The parser calls this at the real end of input (the receiver closed: shutdown is set first)
            // and also when the body failed to parse while the connection is still open.
            if (isShutdown() || getHttpExchange() == null) super.earlyEOF();
            else failAndClose(new ResponseViolation("malformed body", true));
        }
    }
}

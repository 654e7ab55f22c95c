package dev.zerodrop.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zerodrop.delivery.SendResult.ErrorClass;
import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.channels.ClosedChannelException;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/** Failures are classified by type, and described without the client's internals. */
class FailureTest {
    /** What Jetty's messages carry: object names, hash codes, the node's local address and port. */
    private static final String JETTY = "oejcti.HttpConnectionOverHTTP@2ed95b1a::oeji.SocketChannelEndPoint@53176cee"
            + "[{l=/127.0.0.1:41726,r=/127.0.0.1:36431,ISHUT,fill=-,flush=-,to=3/60000}]";

    private final List<String> texts = new ArrayList<>();

    private Failure of(Throwable t, boolean answered) {
        Failure f = Failure.of(t, 2000, answered);
        texts.add(f.text());
        return f;
    }

    private void is(Throwable t, ErrorClass cls, String text) {
        is(t, false, cls, text);
    }

    private void is(Throwable t, boolean answered, ErrorClass cls, String text) {
        Failure f = of(t, answered);
        assertThat(f.errorClass()).as("class of %s", t).isEqualTo(cls);
        assertThat(f.text()).as("text of %s", t).isEqualTo(text);
    }

    private static <T extends Throwable> T causedBy(T t, Throwable cause) {
        t.initCause(cause);
        return t;
    }

    @Test
    void connectionFailuresByType() {
        is(new EOFException(JETTY), ErrorClass.RESET, "the receiver closed or reset the connection without answering");
        is(new EOFException(JETTY), true, ErrorClass.RESET, "the receiver closed or reset the connection before the body ended");
        is(new IOException("Connection reset by peer"), ErrorClass.RESET, "the receiver reset the connection");
        is(new IOException("Broken pipe"), ErrorClass.RESET, "the receiver closed the connection while the request was being sent");
        is(new ClosedChannelException(), ErrorClass.RESET, "the connection was closed");
        is(new ConnectException("Connection refused"), ErrorClass.CONNECT, "connection refused");
        is(new ConnectException(JETTY), ErrorClass.CONNECT, "could not connect");
        is(new NoRouteToHostException("No route to host"), ErrorClass.CONNECT, "no route to host");
        is(new UnknownHostException("nosuch.invalid: Name or service not known"), ErrorClass.CONNECT, "host name not found");
        is(new SocketTimeoutException("Connect Timeout"), ErrorClass.CONNECT, "connect timed out");
        is(new TimeoutException("Total timeout 2000 ms elapsed on " + JETTY), ErrorClass.TIMEOUT, "timed out after 2000ms");
        is(new BlockedAddressException("internal.example"), ErrorClass.BLOCKED, new BlockedAddressException("internal.example").getMessage());
        is(new IllegalArgumentException("Invalid URI scheme ftp"), ErrorClass.CONNECT, "invalid URL");
        // Wrapped the way Jetty wraps: the cause decides, the wrapper's text is dropped.
        is(new RuntimeException("HTTP protocol violation on " + JETTY, new IOException("Connection reset")), ErrorClass.RESET,
                "the receiver reset the connection");
        is(new IllegalStateException("Unexpected " + JETTY), ErrorClass.RESET, "the connection failed");
    }

    @Test
    void tlsFailuresSayWhy() {
        is(causedBy(new SSLHandshakeException("PKIX path building failed: " + JETTY),
                causedBy(new CertificateException("PKIX path building failed"), new CertPathBuilderException("unable to find valid certification path to requested target"))),
                ErrorClass.TLS, "TLS handshake failed: certificate not trusted");
        is(causedBy(new SSLHandshakeException("x"), new CertificateExpiredException("NotAfter: ...")), ErrorClass.TLS,
                "TLS handshake failed: certificate expired");
        is(causedBy(new SSLHandshakeException("x"), new CertificateException("No subject alternative names matching IP address 127.0.0.1 found")),
                ErrorClass.TLS, "TLS handshake failed: certificate does not match the host name");
        is(new SSLException("Unsupported or unrecognized SSL message"), ErrorClass.TLS, "TLS handshake failed: the receiver does not speak TLS");
        is(new SSLHandshakeException("Received fatal alert: handshake_failure"), ErrorClass.TLS,
                "TLS handshake failed: the receiver sent alert handshake_failure");
        is(new SSLHandshakeException(JETTY), ErrorClass.TLS, "TLS handshake failed");
        is(new SSLException(JETTY), ErrorClass.TLS, "TLS error");
    }

    @Test
    void parserViolationsAreProtocolOrTooLarge() {
        is(new StrictHttpTransport.ResponseViolation("Bad status", false), ErrorClass.PROTOCOL, "malformed response: Bad status");
        is(new StrictHttpTransport.ResponseViolation("Illegal character SPACE=' '", false), ErrorClass.PROTOCOL,
                "malformed response: Illegal character SPACE=' '");
        is(new RuntimeException("bad response on " + JETTY, new StrictHttpTransport.ResponseViolation("Unknown Version", false)),
                ErrorClass.PROTOCOL, "malformed response: Unknown Version");
        is(new StrictHttpTransport.ResponseViolation("odd " + JETTY, false), ErrorClass.PROTOCOL, "malformed response");
        is(new StrictHttpTransport.ResponseViolation("malformed body", true), ErrorClass.PROTOCOL, "malformed response body");
        is(new StrictHttpTransport.ResponseViolation(StrictHttpTransport.HEADERS_TOO_LARGE_REASON, false), ErrorClass.TOO_LARGE,
                "response headers exceed 65536 bytes");
        is(new StrictHttpTransport.ResponseViolation(StrictHttpTransport.EARLY_EOF_REASON, false), ErrorClass.RESET,
                "the receiver closed or reset the connection in the middle of the response headers");
    }

    @Test
    void noTextShowsTheClientsInternals() {
        connectionFailuresByType();
        tlsFailuresSayWhy();
        parserViolationsAreProtocolOrTooLarge();
        assertThat(texts).hasSizeGreaterThan(25).allSatisfy(t -> assertThat(t)
                .doesNotContain("@", "Exception", "127.0.0.1", "oej", "org.eclipse", "java.", "41726").hasSizeLessThan(200));
    }

    @Test
    void theNewClassesHaveTheirLabels() {
        assertThat(ErrorClass.PROTOCOL.label()).isEqualTo("protocol");
        assertThat(ErrorClass.TOO_LARGE.label()).isEqualTo("too-large");
        assertThat(ErrorClass.INTERNAL.label()).isEqualTo("internal");
    }
}

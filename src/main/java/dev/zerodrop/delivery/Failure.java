package dev.zerodrop.delivery;

import dev.zerodrop.delivery.SendResult.ErrorClass;
import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.channels.ClosedChannelException;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.util.Locale;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/**
 * Why a send failed, as an error class and a short sentence fit to store and show to the endpoint's
 * owner. The sentence is chosen from the exception's type, never copied from its message: Jetty's
 * messages name its connection objects, their hash codes and this node's local address and port.
 * Only specifics known to be safe are kept: a TLS alert's name, an HTTP parser's reason, our own
 * texts (the address guard's, the timeout).
 */
record Failure(ErrorClass errorClass, String text) {
    private static final int MAX_DEPTH = 16;
    /** A TLS alert name as the JDK reports it ("Received fatal alert: handshake_failure"). */
    private static final Pattern ALERT = Pattern.compile("alert: ([a-z_]{1,40})");
    /** What a parser reason may look like to be shown: short, plain words (Jetty's are fixed strings). */
    private static final Pattern SAFE_REASON = Pattern.compile("[A-Za-z0-9 ,.:;=_'()-]{1,80}");

    /**
     * @param cause what Jetty reported
     * @param timeoutMs the attempt's total timeout, named in the timeout sentence
     * @param answered whether a final response head had arrived before the failure
     */
    static Failure of(Throwable cause, long timeoutMs, boolean answered) {
        Throwable t = cause;
        for (int depth = 0; t != null && depth < MAX_DEPTH; depth++, t = t.getCause()) {
            Failure f = direct(t, cause, timeoutMs, answered);
            if (f != null) return f;
        }
        return new Failure(ErrorClass.RESET, answered ? "the connection failed during the response" : "the connection failed");
    }

    private static Failure direct(Throwable t, Throwable whole, long timeoutMs, boolean answered) {
        return switch (t) {
            case BlockedAddressException b -> new Failure(ErrorClass.BLOCKED, b.getMessage()); // our own text
            case StrictHttpTransport.ResponseViolation v -> violation(v);
            case TimeoutException x -> new Failure(ErrorClass.TIMEOUT, "timed out after " + timeoutMs + "ms");
            case SocketTimeoutException x -> new Failure(ErrorClass.CONNECT, "connect timed out");
            case SSLException x -> new Failure(ErrorClass.TLS, tls(x, whole));
            case NoRouteToHostException x -> new Failure(ErrorClass.CONNECT, "no route to host");
            case ConnectException x -> new Failure(ErrorClass.CONNECT,
                    contains(x, "refused") ? "connection refused" : "could not connect");
            case UnknownHostException x -> new Failure(ErrorClass.CONNECT, "host name not found");
            // Jetty reads a reset (RST) as the end of the stream, so the two cannot be told apart here.
            case EOFException x -> new Failure(ErrorClass.RESET, answered
                    ? "the receiver closed or reset the connection before the body ended"
                    : "the receiver closed or reset the connection without answering");
            case ClosedChannelException x -> new Failure(ErrorClass.RESET, "the connection was closed");
            case IOException x when contains(x, "reset") -> new Failure(ErrorClass.RESET, "the receiver reset the connection");
            case IOException x when contains(x, "broken pipe") ->
                    new Failure(ErrorClass.RESET, "the receiver closed the connection while the request was being sent");
            case IllegalArgumentException x -> new Failure(ErrorClass.CONNECT, "invalid URL");
            default -> null;
        };
    }

    private static Failure violation(StrictHttpTransport.ResponseViolation v) {
        String reason = v.reason() == null ? "" : v.reason();
        if (reason.equals(StrictHttpTransport.HEADERS_TOO_LARGE_REASON)) {
            return new Failure(ErrorClass.TOO_LARGE, "response headers exceed " + WebhookClient.MAX_RESPONSE_HEADERS_BYTES + " bytes");
        }
        if (reason.equals(StrictHttpTransport.EARLY_EOF_REASON)) {
            return new Failure(ErrorClass.RESET, "the receiver closed or reset the connection in the middle of the response headers");
        }
        if (v.inBody()) return new Failure(ErrorClass.PROTOCOL, "malformed response body");
        return new Failure(ErrorClass.PROTOCOL, SAFE_REASON.matcher(reason).matches()
                ? "malformed response: " + reason : "malformed response");
    }

    private static String tls(SSLException x, Throwable whole) {
        for (Throwable t = whole; t != null; t = t.getCause()) {
            if (t instanceof CertificateExpiredException) return "TLS handshake failed: certificate expired";
            if (t instanceof CertificateNotYetValidException) return "TLS handshake failed: certificate not yet valid";
            if (t instanceof CertPathBuilderException || t instanceof CertPathValidatorException
                    || contains(t, "PKIX path") || contains(t, "unable to find valid certification path")) {
                return "TLS handshake failed: certificate not trusted";
            }
            if (contains(t, "No subject alternative") || contains(t, "No name matching")) {
                return "TLS handshake failed: certificate does not match the host name";
            }
        }
        if (contains(x, "unrecognized SSL message") || contains(x, "plaintext connection")) {
            return "TLS handshake failed: the receiver does not speak TLS";
        }
        Matcher alert = ALERT.matcher(String.valueOf(x.getMessage()));
        if (alert.find()) return "TLS handshake failed: the receiver sent alert " + alert.group(1);
        return x instanceof SSLHandshakeException ? "TLS handshake failed" : "TLS error";
    }

    private static boolean contains(Throwable t, String needle) {
        String m = t.getMessage();
        return m != null && m.toLowerCase(Locale.ROOT).contains(needle.toLowerCase(Locale.ROOT));
    }
}

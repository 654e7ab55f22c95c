package dev.zerodrop.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/** Everything logged in this JVM while it is open, ZeroDrop's own debug lines included. */
public final class LogCapture implements AutoCloseable {
    private final ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    private final ch.qos.logback.classic.Logger ours = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger("dev.zerodrop");
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();
    private final Level level = ours.getLevel();

    public static LogCapture start() {
        LogCapture c = new LogCapture();
        c.appender.start();
        c.root.addAppender(c.appender);
        c.ours.setLevel(Level.DEBUG);
        return c;
    }

    public int lines() {
        return appender.list.size();
    }

    public String text() {
        StringBuilder b = new StringBuilder();
        for (ILoggingEvent e : List.copyOf(appender.list)) {
            b.append(e.getLoggerName()).append(' ').append(e.getFormattedMessage());
            if (e.getKeyValuePairs() != null) e.getKeyValuePairs().forEach(kv -> b.append(' ').append(kv.key).append('=').append(kv.value));
            if (e.getThrowableProxy() != null) b.append('\n').append(ThrowableProxyUtil.asString(e.getThrowableProxy()));
            b.append('\n');
        }
        return b.toString();
    }

    @Override
    public void close() {
        root.detachAppender(appender);
        appender.stop();
        ours.setLevel(level);
    }
}

package dev.zerodrop.cli;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import dev.zerodrop.config.LogFormat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Switches the log lines on standard error to the configured format. */
final class Logging {
    private Logging() {}

    /**
     * {@code json}: one JSON object per line, from logback's own {@link JsonEncoder}, with the level,
     * logger, thread, message (template and formatted), MDC, key-value pairs (the ids of the delivery
     * a line is about) and any exception. {@code text} keeps the pattern of logback.xml.
     */
    static void apply(LogFormat format) {
        if (format != LogFormat.JSON) return;
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) return;
        var appender = context.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("STDERR");
        if (!(appender instanceof OutputStreamAppender<ILoggingEvent> out)) return;
        JsonEncoder json = new JsonEncoder();
        json.setContext(context);
        json.setWithSequenceNumber(false);
        json.setWithNanoseconds(false);
        json.setWithContext(false);
        json.setWithArguments(false);
        json.setWithFormattedMessage(true);
        json.start();
        out.stop();
        out.setEncoder(json);
        out.start();
    }
}

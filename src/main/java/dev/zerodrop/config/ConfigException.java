package dev.zerodrop.config;

/** An invalid configuration value. The message is one line and names the knob. */
public final class ConfigException extends RuntimeException {
    public ConfigException(String knob, String problem) {
        super(knob + ": " + problem);
    }
}

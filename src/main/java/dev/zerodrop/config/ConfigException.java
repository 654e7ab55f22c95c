package dev.zerodrop.config;

/** An invalid configuration value. The message is one line and names the knob. */
public final class ConfigException extends RuntimeException {
    public ConfigException(Knob knob, String problem) {
        super(knob.env() + " (" + knob.flag() + "): " + problem);
    }
}

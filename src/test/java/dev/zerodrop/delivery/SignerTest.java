package dev.zerodrop.delivery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The known-good vectors of the Standard Webhooks specification. */
class SignerTest {
    static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    static final String ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
            "1614265330|{\"test\": 2432232314}|v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "1696200454|{\"type\": \"example.created\", \"timestamp\":\"2023-09-28T19:20:22+00:00\", \"data\":{\"str\":\"string\",\"bool\":true,\"int\":42}}|v1,GgjvufBlIj71MBIVQotYGb+xEC3LNXCsIZp0HsDC8qs="})
    void signsTheSpecificationVectors(long timestamp, String payload, String expected) {
        byte[] body = payload.getBytes(StandardCharsets.UTF_8);
        assertThat(Signer.sign(SECRET, ID, timestamp, body)).isEqualTo(expected);
        assertThat(Signer.verify(SECRET, ID, Long.toString(timestamp), expected, body, timestamp, 300)).isTrue();
    }

    @Test
    void rejectsWhatAVerifierMustReject() {
        byte[] body = "{\"test\": 2432232314}".getBytes(StandardCharsets.UTF_8);
        long ts = 1614265330;
        String good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assertThat(Signer.verify(SECRET, null, "1614265330", good, body, ts, 300)).isFalse();
        assertThat(Signer.verify(SECRET, ID, null, good, body, ts, 300)).isFalse();
        assertThat(Signer.verify(SECRET, ID, "1614265330", null, body, ts, 300)).isFalse();
        assertThat(Signer.verify(SECRET, ID, "1614265330", "v2," + good.substring(3), body, ts, 300)).isFalse();
        assertThat(Signer.verify(SECRET, ID, "1614265330", "v1,invalid_signature", body, ts, 300)).isFalse();
        assertThat(Signer.verify(SECRET, ID, "1614265330", good, "{\"test\": 2432232315}".getBytes(StandardCharsets.UTF_8), ts, 300)).isFalse();
        assertThat(Signer.verify(SECRET, ID + "x", "1614265330", good, body, ts, 300)).isFalse();
        assertThat(Signer.verify(SECRET, ID, "1614265331", good, body, ts, 300)).isFalse();
        assertThat(Signer.verify(SECRET, ID, "1614265330", good, body, ts + 301, 300)).isFalse();
        assertThat(Signer.verify(SECRET, ID, "1614265330", good, body, ts - 301, 300)).isFalse();
    }

    @Test
    void duringRotationTheHeaderCarriesOneSignaturePerSecretAndEitherVerifies() {
        String fresh = Signer.newSecret();
        byte[] body = "{}".getBytes(StandardCharsets.UTF_8);
        String header = Signer.header(List.of(fresh, SECRET), ID, 100, body);
        assertThat(header.split(" ")).hasSize(2).allMatch(s -> s.startsWith("v1,"));
        assertThat(Signer.verify(fresh, ID, "100", header, body, 100, 300)).isTrue();
        assertThat(Signer.verify(SECRET, ID, "100", header, body, 100, 300)).isTrue();
        assertThat(Signer.verify(Signer.newSecret(), ID, "100", header, body, 100, 300)).isFalse();
    }

    @Test
    void secretsAreWhsecWithTwentyFourToSixtyFourBytes() {
        assertThat(Signer.newSecret()).startsWith("whsec_");
        assertThat(Signer.key(Signer.newSecret())).hasSize(24);
        assertThat(Signer.normalise("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).isEqualTo(SECRET);
        assertThatThrownBy(() -> Signer.key("whsec_c2hvcnQ=")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Signer.key("whsec_not base64!")).isInstanceOf(IllegalArgumentException.class);
    }
}

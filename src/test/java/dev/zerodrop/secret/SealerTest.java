package dev.zerodrop.secret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** AES-256-GCM sealing with a key ring: pure, apart from the key file. */
class SealerTest {
    static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    @Test
    void aSealedValueOpensWithItsPurposeAndRevealsNothing() {
        Sealer s = new Sealer(Sealer.parse(Sealer.newKey()));
        String sealed = s.seal("endpoint.secret", SECRET);
        assertThat(sealed).startsWith("zd1:" + s.currentKeyId() + ":").doesNotContain(SECRET).doesNotContain("MfKQ9r8");
        assertThat(s.open("endpoint.secret", sealed)).isEqualTo(SECRET);
        assertThat(s.seal("endpoint.secret", SECRET)).as("a fresh nonce every time").isNotEqualTo(sealed);
        assertThat(s.isCurrent(sealed)).isTrue();
        // Copied into another column, it does not open: the purpose is authenticated.
        assertThatThrownBy(() -> new Sealer(Sealer.parse(Sealer.newKey())).open("endpoint.secret", sealed))
                .isInstanceOf(Sealer.SealedException.class).hasMessageContaining("does not have");
    }

    @Test
    void aTamperedOrMisplacedValueDoesNotOpen() {
        String key = Sealer.newKey();
        Sealer s = new Sealer(Sealer.parse(key));
        String sealed = s.seal("endpoint.secret", SECRET);
        Sealer fresh = new Sealer(Sealer.parse(key)); // no cache
        assertThatThrownBy(() -> fresh.open("endpoint.header", sealed)).isInstanceOf(Sealer.SealedException.class);
        char last = sealed.charAt(sealed.length() - 2);
        String tampered = sealed.substring(0, sealed.length() - 2) + (last == 'A' ? 'B' : 'A') + sealed.charAt(sealed.length() - 1);
        assertThatThrownBy(() -> fresh.open("endpoint.secret", tampered)).isInstanceOf(Sealer.SealedException.class);
        assertThat(fresh.open("endpoint.secret", "whsec_stored_before_sealing")).as("clear legacy values pass").isEqualTo("whsec_stored_before_sealing");
    }

    @Test
    void aKeyRingSealsWithItsFirstKeyAndOpensWithAny() {
        String oldKey = Sealer.newKey();
        String newKey = Sealer.newKey();
        Sealer before = new Sealer(Sealer.parse(oldKey));
        String sealedOld = before.seal("p", SECRET);
        Sealer during = new Sealer(Sealer.parse(newKey + "," + oldKey));
        assertThat(during.open("p", sealedOld)).isEqualTo(SECRET);
        assertThat(during.isCurrent(sealedOld)).isFalse();
        String sealedNew = during.seal("p", SECRET);
        assertThat(during.isCurrent(sealedNew)).isTrue();
        assertThat(new Sealer(Sealer.parse(newKey)).open("p", sealedNew)).isEqualTo(SECRET);
    }

    @Test
    void badKeysAreRefusedWithAReason() {
        assertThatThrownBy(() -> Sealer.parse("not base64 !")).hasMessageContaining("base64");
        assertThatThrownBy(() -> Sealer.parse("c2hvcnQ=")).hasMessageContaining("32 bytes");
        assertThatThrownBy(() -> Sealer.parse(" , ")).hasMessageContaining("no key");
    }

    @Test
    void withoutAConfiguredKeyOneIsGeneratedOnceInAFileOnlyItsOwnerCanRead(@TempDir Path dir) throws Exception {
        Sealer first = Sealer.load(Optional.empty(), dir);
        Path file = dir.resolve("secret.key");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        String sealed = first.seal("p", SECRET);
        Sealer again = Sealer.load(Optional.empty(), dir);
        assertThat(again.currentKeyId()).isEqualTo(first.currentKeyId());
        assertThat(again.open("p", sealed)).isEqualTo(SECRET);
        assertThat(Sealer.load(Optional.of(Sealer.newKey()), dir).currentKeyId()).isNotEqualTo(first.currentKeyId());
    }
}

package dev.zerodrop.api;

import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;

import dev.zerodrop.store.SealedSecrets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * /api/v1/secrets: the secrets at rest by the key that sealed them, so that an operator can follow a
 * key rotation to its end; and a reseal on demand (it also runs at every start and hourly). Server-wide.
 */
public final class SecretRoutes {
    /** One key id found in the database or loaded on this node, and how many values it sealed. */
    record KeyOut(String keyId, long values, boolean current, boolean loaded) {}

    /**
     * {@code toReseal}: values in clear or under a loaded key that no longer seals (the reseal takes
     * them); {@code unopenable}: values under a key this node does not have.
     */
    record StatusOut(String currentKeyId, List<String> loadedKeyIds, long clear, long toReseal, long unopenable, List<KeyOut> keys) {
        static StatusOut of(SealedSecrets.Census c) {
            Set<String> ids = new LinkedHashSet<>(c.loadedKeyIds());
            ids.addAll(c.byKeyId().keySet());
            List<KeyOut> keys = new ArrayList<>();
            for (String id : ids) {
                keys.add(new KeyOut(id, c.byKeyId().getOrDefault(id, 0L), id.equals(c.currentKeyId()), c.loadedKeyIds().contains(id)));
            }
            return new StatusOut(c.currentKeyId(), c.loadedKeyIds(), c.clear(), c.toReseal(), c.unopenable(), keys);
        }
    }

    record ResealOut(SealedSecrets.Reseal resealed, StatusOut status) {}

    private final SealedSecrets sealed;

    public SecretRoutes(SealedSecrets sealed) {
        this.sealed = sealed;
    }

    public void register(ApiServer api) {
        api.route(GET, "/api/v1/secrets", Access.ADMIN, ctx -> ApiServer.Reply.of(200, StatusOut.of(sealed.census())));
        api.route(POST, "/api/v1/secrets/reseal", Access.ADMIN, ctx -> {
            SealedSecrets.Reseal r = sealed.reseal();
            return ApiServer.Reply.of(200, new ResealOut(r, StatusOut.of(sealed.census())));
        });
    }
}

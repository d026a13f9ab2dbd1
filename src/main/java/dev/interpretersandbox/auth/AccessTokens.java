package dev.interpretersandbox.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;

/**
 * Per-sandbox access tokens: 32 random bytes, shown once to whoever created the sandbox. Only
 * their SHA-256 is kept (in memory and in the sandbox's record), so a copied state directory
 * opens nothing. Checks compare digests in constant time.
 */
public final class AccessTokens {

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final HexFormat HEX = HexFormat.of();

    /** A new token and the hash to keep. */
    public record Issued(String token, String hash) {}

    private AccessTokens() {}

    public static Issued issue() {
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        String token = "sbt_" + HEX.formatHex(raw);
        return new Issued(token, hash(token));
    }

    /** The hex SHA-256 of a token, as kept. */
    public static String hash(String token) {
        return HEX.formatHex(digest(token));
    }

    /** Whether token is one of those whose hashes were kept (each compared in constant time). */
    public static boolean matches(String token, List<String> keptHashes) {
        boolean found = false;
        for (String kept : keptHashes) {
            found |= matches(token, kept);
        }
        return found;
    }

    /** Whether token is the one whose hash was kept; false for a null token or hash. */
    public static boolean matches(String token, String keptHash) {
        if (token == null || keptHash == null || keptHash.length() != 64) {
            return false;
        }
        byte[] kept;
        try {
            kept = HEX.parseHex(keptHash);
        } catch (IllegalArgumentException e) {
            return false;
        }
        return MessageDigest.isEqual(digest(token), kept);
    }

    /** SHA-256 of a secret, for comparisons in constant time whatever its length. */
    public static byte[] digest(String token) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}

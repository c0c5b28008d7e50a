// Encrypts a passcode, PIN or short text for the Key Management Service the way an
// Android app (or any JCA code) should: RSA-OAEP with SHA-256 AND MGF1-SHA-256, base64.
// Usage: java KmsOaep public-key.pem < plaintext   (prints the base64 ciphertext)
// The plaintext comes on stdin so that it never shows in a process list.
// The regions between the "snippet" comments are copied verbatim into the README (Clients);
// test/clients-docs.spec.ts fails if the two differ.

// snippet:imports begin
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import javax.crypto.Cipher;
import javax.crypto.spec.OAEPParameterSpec;
import javax.crypto.spec.PSource;
// snippet:imports end

public final class KmsOaep {
  private KmsOaep() {}

  // snippet:encrypt begin
  /** The KMS public key (SPKI PEM, as `publicKey` of generateEncryptionKey / activeEncryptionKey). */
  static PublicKey readPublicKey(String pem) throws GeneralSecurityException {
    String base64 = pem.replaceAll("-----(BEGIN|END) PUBLIC KEY-----|\\s", "");
    byte[] spki = Base64.getDecoder().decode(base64);
    return KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(spki));
  }

  /** RSA-OAEP, SHA-256, MGF1-SHA-256: at most 190 bytes of UTF-8. Returns standard base64. */
  static String encrypt(PublicKey kmsKey, String plaintext) throws GeneralSecurityException {
    Cipher cipher = Cipher.getInstance("RSA/ECB/OAEPWithSHA-256AndMGF1Padding");
    // Without this spec the JDK and Android's default providers use MGF1 with SHA-1: DECRYPTION_FAILED.
    OAEPParameterSpec sha256 =
        new OAEPParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, PSource.PSpecified.DEFAULT);
    cipher.init(Cipher.ENCRYPT_MODE, kmsKey, sha256);
    byte[] ciphertext = cipher.doFinal(plaintext.getBytes(StandardCharsets.UTF_8));
    return Base64.getEncoder().encodeToString(ciphertext);
  }
  // snippet:encrypt end

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: java KmsOaep public-key.pem < plaintext");
      System.exit(2);
    }
    String pem = new String(java.nio.file.Files.readAllBytes(java.nio.file.Paths.get(args[0])), StandardCharsets.UTF_8);
    String plaintext = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
    System.out.println(encrypt(readPublicKey(pem), plaintext));
  }
}

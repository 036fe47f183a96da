import COpenSSL
import Foundation

/// Reusable OpenSSL contexts for one store's thread: the cipher and MAC are fetched once and each
/// key is scheduled once. OpenSSL 3 re-fetches algorithms (taking locks) on every implicit
/// `EVP_aes_256_gcm()` init or one-shot `HMAC()`, which costs more than encrypting a record.
///
/// Not thread-safe: owned by a `FieldCipher` that lives on one store thread.
final class CryptoContexts {
    private let cipher: OpaquePointer?
    private let mac: OpaquePointer?
    private var encryptors: [String: OpaquePointer] = [:]
    private var decryptors: [String: OpaquePointer] = [:]
    private var macs: [[UInt8]: OpaquePointer] = [:]

    init() {
        cipher = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil)
        mac = EVP_MAC_fetch(nil, "HMAC", nil)
    }

    deinit {
        for ctx in encryptors.values { EVP_CIPHER_CTX_free(ctx) }
        for ctx in decryptors.values { EVP_CIPHER_CTX_free(ctx) }
        for ctx in macs.values { EVP_MAC_CTX_free(ctx) }
        EVP_CIPHER_free(cipher)
        EVP_MAC_free(mac)
    }

    /// A context keyed with `key` for encryption (`encrypt`) or decryption; set the IV per message.
    func cipherContext(keyID: String, key: [UInt8], encrypt: Bool) throws(StoreError) -> OpaquePointer {
        if let ctx = encrypt ? encryptors[keyID] : decryptors[keyID] { return ctx }
        guard let cipher, let ctx = EVP_CIPHER_CTX_new() else { throw StoreError.backend("OpenSSL AES-256-GCM unavailable") }
        let ok = encrypt ? EVP_EncryptInit_ex2(ctx, cipher, key, nil, nil) : EVP_DecryptInit_ex2(ctx, cipher, key, nil, nil)
        guard ok == 1 else {
            EVP_CIPHER_CTX_free(ctx)
            throw StoreError.backend("AES-256-GCM key setup failed")
        }
        if encrypt { encryptors[keyID] = ctx } else { decryptors[keyID] = ctx }
        return ctx
    }

    /// HMAC-SHA256 of `data` under `key`, the key scheduled once per key.
    func hmacSHA256(key: [UInt8], _ data: [UInt8]) -> [UInt8]? {
        var ctx = macs[key]
        if ctx == nil {
            guard let mac, let fresh = EVP_MAC_CTX_new(mac) else { return nil }
            var digest = Array("SHA256".utf8CString)
            let ok = digest.withUnsafeMutableBufferPointer { name -> Int32 in
                var params = [OSSL_PARAM_construct_utf8_string("digest", name.baseAddress, 0), OSSL_PARAM_construct_end()]
                return EVP_MAC_init(fresh, key, key.count, &params)
            }
            guard ok == 1 else {
                EVP_MAC_CTX_free(fresh)
                return nil
            }
            macs[key] = fresh
            ctx = fresh
        } else if EVP_MAC_init(ctx, nil, 0, nil) != 1 {
            // Re-initialising with no key restarts the MAC under the key already set.
            return nil
        }
        var out = [UInt8](repeating: 0, count: 32)
        var length = 0
        guard EVP_MAC_update(ctx, data, data.count) == 1, EVP_MAC_final(ctx, &out, &length, 32) == 1, length == 32 else { return nil }
        return out
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Cloud KMS puts on
/// every payload (`pemCrc32c`, `digestCrc32c`, `signatureCrc32c`) so a corrupted byte on
/// the way is caught instead of being signed or published.
enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ 0x82F6_3B78 : value >> 1 }
        return value
    }

    static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// The checksum as Cloud KMS writes it in JSON: an int64 as a decimal string.
    static func wire<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        String(checksum(bytes))
    }
}

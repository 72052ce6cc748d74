/// The order in which QEMU 7.2 walks the members of a JSON object it has read.
///
/// QEMU keeps an object's members in a hash table of 512 buckets and walks it bucket by bucket;
/// inside a bucket the member added last comes first. Where QEMU reports only the first problem
/// it finds among the members (the request envelope), that order decides which one it is.
enum QEMUDictionaryOrder {
    static let bucketCount: UInt32 = 512

    /// The bucket of `key`: QEMU's string hash (the one from Samba's TDB), over the key's bytes
    /// as QEMU holds them, where U+0000 is the two bytes C0 80.
    static func bucket(_ key: String) -> UInt32 {
        var length: UInt32 = 0
        var sum: UInt32 = 0
        func add(_ byte: UInt8) {
            sum &+= UInt32(byte) << (length * 5 % 24)
            length &+= 1
        }
        for byte in key.utf8 {
            if byte == 0 {
                add(0xC0)
                add(0x80)
            } else {
                add(byte)
            }
        }
        let value = 0x238F_13AF &* length &+ sum
        return (1_103_515_243 &* value &+ 12_345) % bucketCount
    }

    /// Whether QEMU comes to the member `key`, at `position` in the message, before the member
    /// `other` at `otherPosition`.
    static func precedes(_ key: String, _ position: Int, _ other: String, _ otherPosition: Int) -> Bool {
        let (bucket, otherBucket) = (self.bucket(key), self.bucket(other))
        return bucket != otherBucket ? bucket < otherBucket : position > otherPosition
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Transport

/// Bytes waiting to be written on one connection: small rendered pieces copied into an owned
/// buffer, and pre-rendered responses referenced without copying. `flush` hands all of it to
/// the transport as one vector write per call, so a batch of pipelined responses leaves in
/// one system call.
struct OutputQueue {
    private enum Segment {
        case owned(start: Int, count: Int)
        case shared(UnsafeRawPointer, count: Int, owner: PrerenderedResponse)
    }

    private(set) var owned: [UInt8] = []
    private var segments: [Segment] = []
    private var first = 0
    private var firstOffset = 0

    var isEmpty: Bool { first == segments.count }

    /// Appends bytes produced by `render` to the owned buffer.
    mutating func appendOwned(_ render: (inout [UInt8]) -> Void) {
        let start = owned.count
        render(&owned)
        let count = owned.count - start
        guard count > 0 else { return }
        if case .owned(let lastStart, let lastCount)? = segments.last, lastStart + lastCount == start {
            segments[segments.count - 1] = .owned(start: lastStart, count: lastCount + count)
        } else {
            segments.append(.owned(start: start, count: count))
        }
    }

    /// Appends `count` bytes at `pointer`, kept alive by `owner` until written.
    mutating func appendShared(_ pointer: UnsafeRawPointer, count: Int, owner: PrerenderedResponse) {
        guard count > 0 else { return }
        segments.append(.shared(pointer, count: count, owner: owner))
    }

    /// Writes until everything is sent or the socket would block.
    mutating func flush(to transport: any ConnectionTransport, vectors: UnsafeMutableBufferPointer<iovec>) -> TransportResult {
        while !isEmpty {
            let result: TransportResult = owned.withUnsafeMutableBytes { ownedBytes in
                // Owned segments exist only when `owned` holds bytes, so its base address is set.
                let ownedBase = ownedBytes.baseAddress
                var count = 0
                var index = first
                while index < segments.count && count < vectors.count {
                    let skip = index == first ? firstOffset : 0
                    switch segments[index] {
                    case .owned(let start, let length):
                        vectors[count] = iovec(iov_base: ownedBase.map { $0 + start + skip }, iov_len: length - skip)
                    case .shared(let pointer, let length, _):
                        vectors[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: pointer) + skip, iov_len: length - skip)
                    }
                    count += 1
                    index += 1
                }
                return transport.write(UnsafeMutableBufferPointer(rebasing: vectors[0..<count]))
            }
            guard case .bytes(let written) = result else { return result }
            advance(by: written)
        }
        reset()
        return .bytes(0)
    }

    private mutating func advance(by written: Int) {
        var rest = written
        while rest > 0 && first < segments.count {
            let length: Int
            switch segments[first] {
            case .owned(_, let count): length = count
            case .shared(_, let count, _): length = count
            }
            let remaining = length - firstOffset
            if rest >= remaining {
                rest -= remaining
                first += 1
                firstOffset = 0
            } else {
                firstOffset += rest
                rest = 0
            }
        }
    }

    /// Drops everything, keeping a modest buffer for the next responses.
    mutating func reset() {
        if owned.capacity > 64 * 1024 {
            owned = []
        } else {
            owned.removeAll(keepingCapacity: true)
        }
        segments.removeAll(keepingCapacity: segments.capacity <= 256)
        first = 0
        firstOffset = 0
    }
}

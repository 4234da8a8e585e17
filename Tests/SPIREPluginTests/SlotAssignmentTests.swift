import Core
import Foundation
@testable import SPIREPlugin
import Testing

/// Which keycoord key a JWT slot is handed: the current key unless this is a prepare (the
/// other slot holds the current key) and a confirmed, untainted next key exists.
struct SlotAssignmentTests {
    static func key(_ kid: String) -> ControlAPIClient.Key {
        ControlAPIClient.Key(kid: kid, keyType: .ecP256, state: "active", tainted: false, backend: "disk", backendRef: "ref-\(kid)",
                             publicKey: [1], notAfter: Date(timeIntervalSince1970: 1_000))
    }

    static func slot(_ kid: String) -> SharedSlot {
        SharedSlot(key: key(kid), backendRef: "ref-\(kid)", assignedAt: Date(timeIntervalSince1970: 0))
    }

    @Test func firstSlotGetsTheCurrentKey() {
        let chosen = SlotAssignment.choose(current: Self.key("c"), next: Self.key("n"), nextIsUsable: true, otherSlots: [])
        #expect(chosen.kid == "c")
    }

    @Test func preparedSlotGetsTheNextKey() {
        let chosen = SlotAssignment.choose(current: Self.key("c"), next: Self.key("n"), nextIsUsable: true,
                                           otherSlots: [Self.slot("c")])
        #expect(chosen.kid == "n")
    }

    @Test func aTaintedOrUnconfirmedNextKeyIsNeverHandedOut() {
        let chosen = SlotAssignment.choose(current: Self.key("c"), next: Self.key("n"), nextIsUsable: false,
                                           otherSlots: [Self.slot("c")])
        #expect(chosen.kid == "c")
    }

    @Test func aSlotBesideAnOldKeyGetsTheCurrentKey() {
        // The other slot holds a key keycoord has moved past: this slot catches up to current.
        let chosen = SlotAssignment.choose(current: Self.key("c"), next: Self.key("n"), nextIsUsable: true,
                                           otherSlots: [Self.slot("old")])
        #expect(chosen.kid == "c")
    }

    @Test func noNextKeyMeansTheCurrentKeyInBothSlots() {
        let chosen = SlotAssignment.choose(current: Self.key("c"), next: nil, nextIsUsable: false, otherSlots: [Self.slot("c")])
        #expect(chosen.kid == "c")
    }
}

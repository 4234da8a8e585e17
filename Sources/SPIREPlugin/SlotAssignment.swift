/// Which shared key a `JWT-Signer-*` slot is handed at GenerateKey (docs/spire.md, "The
/// slot mapping"). The plugin never mints: it hands out keys keycoord already publishes,
/// so the JWKS is keycoord's rotation alone, whatever the number of servers and restarts.
///
/// SPIRE calls GenerateKey for a slot either to use it at once (the first key of a server,
/// no other slot held) or to prepare it: it then signs with the other slot's key until it
/// activates this one, at least a third of `ca_ttl` later. So:
/// - the other slot holds keycoord's current key and a published next key exists that
///   keycoord confirms untainted → the next key (in the JWKS since it was published,
///   signed with only from SPIRE's activation on);
/// - otherwise → keycoord's current key (active, so it went through publish-lead, and
///   ensure never answers a tainted one).
enum SlotAssignment {
    /// `nextIsUsable`: keycoord confirmed the next key published and untainted.
    static func choose(current: ControlAPIClient.Key, next: ControlAPIClient.Key?, nextIsUsable: Bool,
                       otherSlots: [SharedSlot]) -> ControlAPIClient.Key {
        if let next, nextIsUsable, next.kid != current.kid, otherSlots.contains(where: { $0.kid == current.kid }) {
            return next
        }
        return current
    }
}

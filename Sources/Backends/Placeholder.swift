import Core
enum BackendsPlaceholder {}

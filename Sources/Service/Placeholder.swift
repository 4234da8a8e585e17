import Core
enum ServicePlaceholder {}

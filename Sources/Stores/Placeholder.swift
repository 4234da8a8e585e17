import Core
enum StoresPlaceholder {}

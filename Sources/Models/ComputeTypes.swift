// Compute's types that the layers above name through Models (a scoped import, so that `Compute`
// below is the module and not its enum of the same name).
import class Compute.Workspace
import enum Compute.KVCacheType

public typealias KVCacheType = Compute.KVCacheType
public typealias Workspace = Compute.Workspace

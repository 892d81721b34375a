// Public: the conformances below are of public library types.
public import ArgumentParser
public import AutoInterp

// Library enums that options take by their raw values (`--sae-format saelens`, `--explainer local`).
extension SAEFormat: ExpressibleByArgument {}
extension ExplainerKind: ExpressibleByArgument {}
extension SimulatorMode: ExpressibleByArgument {}

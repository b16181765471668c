"""karrio's SDK, imported once: it imports PyPDF2, which warns about itself on import; that one warning is silenced."""

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import karrio.core.models as models
    import karrio.lib as lib
    import karrio.sdk as karrio

__all__ = ["karrio", "lib", "models"]

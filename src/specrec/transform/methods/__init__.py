"""Transform methods, one module each; importing this package registers every one."""

from specrec.transform.methods import ace, alphafuse, group_whiten, llminit, pca, whiten  # noqa: F401
from specrec.transform.methods import morec  # noqa: F401
from specrec.transform.methods import alpharec  # noqa: F401
from specrec.transform.methods import unisrec  # noqa: F401
from specrec.transform.methods import whitenrec  # noqa: F401
from specrec.transform.methods import llmemb  # noqa: F401
from specrec.transform.methods import spectran  # noqa: F401
from specrec.transform.methods import rlmrec  # noqa: F401
from specrec.transform.methods import whitenrec_plus  # noqa: F401
from specrec.transform.methods import llmesr  # noqa: F401

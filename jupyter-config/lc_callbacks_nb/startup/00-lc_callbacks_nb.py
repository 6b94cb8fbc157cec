# lc_callbacks_nb autoload: written by `python -m lc_callbacks_nb enable`, deleted by `disable`.
# In a Jupyter kernel this loads the lc_callbacks_nb IPython extension, next to every extension
# the config files list (it changes none of them). If lc_callbacks_nb cannot be imported here
# (uninstalled, or a kernel of another environment) it does nothing and prints nothing; any other
# failure is logged like a failed extension and never stops the startup files after this one.
# Delete this file to stop it.


def _lc_callbacks_nb_autoload():
    import importlib.util

    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return  # terminal IPython: autoload is for kernels
    try:
        if importlib.util.find_spec("lc_callbacks_nb") is None:
            return  # not installed in this environment: nothing to load, nothing to say
        shell.extension_manager.load_extension("lc_callbacks_nb")
    except Exception:
        import logging

        from traitlets.config import Application

        log = Application.instance().log if Application.initialized() else logging.getLogger()
        log.warning("Error in loading extension: lc_callbacks_nb\nfrom %s", __file__, exc_info=True)


try:
    _lc_callbacks_nb_autoload()
finally:
    del _lc_callbacks_nb_autoload

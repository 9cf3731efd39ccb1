"""Run directories and the submission of a run: every run gets its own folder
`<result_dir>/<5-digit id>-<description>/` and its console output is copied
into `log.txt` there."""

import inspect
import os
import re
import shutil
import time
import traceback

from . import util


class SubmitConfig(util.EasyDict):
    """Where and how a run is executed.

    result_dir:    parent folder of run directories.
    run_desc:      short description appended to the run id.
    num_gpus:      devices the run uses (GPUs, or logical CPU devices when none).
    run_dir:       filled in by submit_run.
    run_id:        filled in by submit_run.
    """

    def __init__(self, **kwargs):
        super().__init__()
        self.result_dir = 'results'
        self.run_desc = ''
        self.num_gpus = 1
        self.run_dir = None
        self.run_id = None
        self.run_func_name = None
        self.update(kwargs)


def _next_run_id(result_dir):
    ids = [-1]
    if os.path.isdir(result_dir):
        for name in os.listdir(result_dir):
            match = re.match(r'^(\d+)', name)
            if match and os.path.isdir(os.path.join(result_dir, name)):
                ids.append(int(match.group(1)))
    return max(ids) + 1


def create_run_dir(result_dir, run_desc):
    """Create and return a fresh `<result_dir>/<id>-<desc>` folder."""
    os.makedirs(result_dir, exist_ok=True)
    desc = re.sub(r'[^A-Za-z0-9_.+-]', '_', run_desc) if run_desc else 'run'
    while True:
        run_id = _next_run_id(result_dir)
        run_dir = os.path.join(result_dir, '%05d-%s' % (run_id, desc))
        try:
            os.makedirs(run_dir)
            return run_id, run_dir
        except FileExistsError:
            continue  # another process took this id a moment ago


def submit_run(submit_config, run_func_name, **run_func_kwargs):
    """Create the run directory, tee the console to log.txt and call the run function.

    The run function receives `run_dir` and/or `submit_config` (with run_dir
    set) as keyword arguments when its signature names them.
    """
    submit_config = SubmitConfig(**submit_config)
    submit_config.run_func_name = run_func_name
    submit_config.run_id, submit_config.run_dir = create_run_dir(submit_config.result_dir, submit_config.run_desc)
    logger = util.Logger(os.path.join(submit_config.run_dir, 'log.txt'), file_mode='a')
    start = time.time()
    failed = False
    try:
        print('Run directory: %s' % submit_config.run_dir)
        func = util.get_obj_by_name(run_func_name)
        params = inspect.signature(func).parameters
        run_func_kwargs = dict(run_func_kwargs)
        if 'submit_config' in params:
            run_func_kwargs['submit_config'] = submit_config
        if 'run_dir' in params:
            run_func_kwargs['run_dir'] = submit_config.run_dir
        return func(**run_func_kwargs)
    except KeyboardInterrupt:
        print('Interrupted after %s.' % util.format_time(time.time() - start))
        raise
    except Exception:
        # The caller decides what the console shows; the log keeps the whole story, unless the run
        # made nothing else: a run that failed at its start (on its inputs) leaves no folder behind.
        if logger.file is not None:
            logger.file.write(traceback.format_exc())
        failed = True
        raise
    finally:
        logger.close()
        if failed and not set(os.listdir(submit_config.run_dir)) - {'log.txt'}:
            shutil.rmtree(submit_config.run_dir, ignore_errors=True)
            print('Removed %s: the run failed before writing anything' % submit_config.run_dir)
        else:
            with open(os.path.join(submit_config.run_dir, '_finished.txt'), 'w') as f:
                f.write('%.1f\n' % (time.time() - start))

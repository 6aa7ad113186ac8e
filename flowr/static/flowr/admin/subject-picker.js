'use strict';
// "Start a state": show the search box of the chosen subject model only.
{
    const update = () => {
        const chosen = document.getElementById('id_subject_type');
        document.querySelectorAll('[data-flowr-picker]').forEach((row) => {
            row.style.display = chosen && row.dataset.flowrPicker === chosen.value ? '' : 'none';
        });
    };
    document.addEventListener('DOMContentLoaded', () => {
        const chosen = document.getElementById('id_subject_type');
        if (chosen) {
            chosen.addEventListener('change', update);
        }
        update();
    });
}

/* Order entry form: customer lookup popup and the list-price check before saving. */
(function () {
  var form = document.getElementById('order-form');
  var listPrices = JSON.parse(document.getElementById('list-prices').textContent || '{}');

  document.getElementById('lookup-customer').onclick = function () {
    window.open('/customers/lookup', 'lookup', 'width=500,height=400');
    return false;
  };

  function parseNumber(text) {
    text = (text || '').replace(/^\s+|\s+$/g, '');
    if (!/^(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$/.test(text)) { return null; }
    return parseFloat(text.replace(/\./g, '').replace(',', '.'));
  }

  function firstDeviatingRow() {
    var rows = parseInt(form.elements['rows'].value, 10);
    for (var i = 1; i <= rows; i++) {
      var item = (form.elements['item_' + i].value || '').replace(/^\s+|\s+$/g, '').toUpperCase();
      var typed = parseNumber(form.elements['price_' + i].value);
      if (!item || typed === null || !(item in listPrices)) { continue; }
      var list = parseFloat(listPrices[item]);
      var off = list === 0 ? typed !== 0 : Math.abs(typed - list) / list > 0.05;
      if (off) { return i; }
    }
    return 0;
  }

  document.getElementById('save').onclick = function () {
    var row = firstDeviatingRow();
    if (row && !window.confirm('Row ' + row + ': unit price differs from the list price. Save anyway?')) {
      return false;
    }
    document.getElementById('price_confirmed').value = row ? '1' : '';
    return true;
  };
})();

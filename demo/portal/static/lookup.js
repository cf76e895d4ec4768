/* Customer lookup popup: a picked customer goes back into the order form, which is posted back. */
(function () {
  var links = document.querySelectorAll('a.pick');
  for (var i = 0; i < links.length; i++) {
    links[i].onclick = function () {
      var opener = window.opener;
      if (!opener || opener.closed) { alert('The order form is no longer open.'); return false; }
      var doc = opener.document;
      doc.getElementById('customer_no').value = this.getAttribute('data-customer');
      doc.getElementById('postback_action').value = 'select_customer';
      doc.getElementById('order-form').submit();
      window.close();
      return false;
    };
  }
})();
